import { defaultBackendName } from '../kernels/backend.js';
import { errors } from '../errors.js';
import { CharVocab } from '../data/chars.js';
import { defaultLivePolicy, isFixedPlacement, isLivePolicy, livePolicies } from '../sched/policies/index.js';
import { moduleUrls } from '../runtime/thread.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { describeModel } from './build.js';
import { DeviceEngine } from './device-engine.js';
import { LocalEngine } from './local-engine.js';
import { batchingLimits, ServedModel, type ServeOptions } from './model.js';
import { importUserModule } from '../runtime/modules.js';

/**
 * Loads a checkpoint for inference (parameters only; no optimizer state): GPT-MoE models generate,
 * vision MoE models classify. With `devices` ≥ 2 the experts spread over worker threads and
 * `policy` rebalances them under live traffic.
 */
export async function loadModel(path: string, opts: ServeOptions = {}): Promise<ServedModel> {
  const ckpt = loadCheckpoint(path);
  // A model of your own comes back from the modules its checkpoint names (imported here and on every device).
  const saved = Array.isArray(ckpt.meta.modules) ? (ckpt.meta.modules as string[]) : [];
  for (const m of saved) {
    try {
      await importUserModule(m);
    } catch (e) {
      throw errors.checkpoint(path, `names a module that failed: ${(e as Error).message}`);
    }
  }
  const info = describeModel(path, ckpt.meta);
  let vocab: CharVocab | null = null;
  if (info.kind === 'generate') {
    const chars = ckpt.meta.vocab as string[] | undefined;
    if (!chars) throw errors.checkpoint(path, 'has no vocabulary (written by an older flexmoe); re-save it');
    vocab = new CharVocab(chars);
  }
  batchingLimits(opts); // bad limits fail before any device starts
  const backend = opts.backend ?? (await defaultBackendName());
  const devices = opts.devices ?? 1;
  const policy = opts.policy ?? defaultLivePolicy;
  const modules = [...saved, ...moduleUrls(opts.modules ?? [])];
  for (const m of modules) await importUserModule(m); // registers the policies of your own here too
  if (!isLivePolicy(policy)) throw errors.badArgument('loadModel', `serving supports the policies ${livePolicies.join(', ')} and policies of your own (registerPolicy in one of modules) (got "${policy}")`);
  if (devices === 1 && opts.policy && !isFixedPlacement(opts.policy)) throw errors.badArgument('loadModel', `policy ${opts.policy} moves experts between devices: use devices ≥ 2`);
  if (opts.hosts && devices < 2) throw errors.badArgument('loadModel', `serving on hosts needs devices ≥ 2 (what the hosts offer together), got ${devices}`);
  const engine = devices === 1
    ? await LocalEngine.start(path, ckpt, info, backend)
    : await DeviceEngine.start(path, info, { devices, policy, profile: opts.profile, slots: opts.slots, loadWindowMs: opts.loadWindowMs, backend, modules, hosts: opts.hosts });
  return new ServedModel(engine, info, vocab, opts);
}
