/**
 * The example service, from the command line:
 *
 *   npx tsx examples/service/server.ts [--generate FILE] [--classify FILE] [--demo] [--port 8080]
 *        [--host 127.0.0.1] [--devices 2] [--policy flexmoe|NAME [--module FILE]] [--max-batch 16] [--max-queue 64]
 *
 * With --demo (or no model given) it trains the demo models first, into ./flexmoe-demo/. --module FILE
 * loads a module that registers a placement policy of your own (registerPolicy) for --policy NAME.
 * Binds 127.0.0.1 unless told otherwise; SIGTERM or SIGINT drains in-flight requests and exits 0.
 */
import { join } from 'node:path';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { FlexMoEError, loadModel, nearest, type ServedModel } from 'flexmoe';
import { startService } from './app.js';
import { demoLanguageCheckpoint, demoVisionCheckpoint } from './demo.js';

const log = (s: string) => process.stderr.write(`flexmoe service: ${s}\n`);
/** A user error: one line, exit 2 (the same rules as the flexmoe command line). */
const fail = (s: string): never => {
  log(s);
  process.exit(2);
};
const options = {
  generate: { type: 'string' }, classify: { type: 'string' }, demo: { type: 'boolean' },
  host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '8080' },
  devices: { type: 'string', default: '2' }, policy: { type: 'string', default: 'flexmoe' }, module: { type: 'string' }, slots: { type: 'string' },
  'max-batch': { type: 'string', default: '16' }, 'max-queue': { type: 'string', default: '64' }, 'max-wait-ms': { type: 'string', default: '2' },
} as const;
const values = (() => {
  try {
    return parseArgs({ options, strict: true }).values;
  } catch (e) {
    const name = /'-+([^' =]+)/.exec((e as Error).message)?.[1] ?? '';
    const near = name ? nearest(name, Object.keys(options)) : null;
    return fail((e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? `unknown flag --${name}${near ? `; did you mean --${near}?` : ''}` : (e as Error).message);
  }
})();
const int = (name: keyof typeof options, min: number, max: number): number => {
  const v = Number(values[name]);
  return Number.isInteger(v) && v >= min && v <= max ? v : fail(`--${name}: expected an integer in [${min}, ${max}], got ${JSON.stringify(values[name])}`);
};
const port = int('port', 0, 65535);
for (const f of ['generate', 'classify', 'module'] as const) if (values[f] && !existsSync(values[f] as string)) fail(`--${f}: no such file: ${values[f]}`);
const opts = {
  devices: int('devices', 1, 64), policy: values.policy as string, modules: values.module ? [values.module as string] : [], slots: values.slots ? int('slots', 1, 1024) : undefined,
  maxBatch: int('max-batch', 1, 4096), maxQueue: int('max-queue', 0, 1 << 20), maxWaitMs: int('max-wait-ms', 0, 60_000),
};
// The port is checked before any model loads (minutes of work for the demo).
await new Promise<void>((resolve) => {
  const probe = createServer().once('error', (e) => fail(`cannot listen on ${values.host}:${port}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
  probe.listen(port, values.host as string, () => probe.close(() => resolve()));
});
let { generate, classify } = values as { generate?: string; classify?: string };
if (values.demo || (!generate && !classify)) {
  mkdirSync('flexmoe-demo', { recursive: true });
  generate ??= await demoLanguageCheckpoint(join('flexmoe-demo', 'gpt-moe.ckpt'), 300, log);
  classify ??= await demoVisionCheckpoint(join('flexmoe-demo', 'vision-moe.ckpt'), 100, log);
}
let lm: ServedModel | undefined, vision: ServedModel | undefined;
try {
  lm = generate ? await loadModel(generate, opts) : undefined;
  vision = classify ? await loadModel(classify, opts) : undefined;
} catch (e) {
  if (e instanceof FlexMoEError) fail(e.message);
  throw e;
}
const service = await startService({ generate: lm, classify: vision, host: values.host as string, port });
log(`listening on ${service.url} (${opts.devices} devices, policy ${opts.policy}); POST /v1/generate, POST /v1/classify, GET /healthz, GET /metrics`);
process.stdout.write(`${JSON.stringify({ listening: service.url })}\n`);
lm?.events$.subscribe((e) => e.type === 'replan' && log(`re-plan layer ${e.layer}: ${e.ops.map((o) => o.op).join(', ')} (predicted ${e.predictedMsBefore.toFixed(2)} → ${e.predictedMsAfter.toFixed(2)} ms, switch ${e.switchMs.toFixed(1)} ms)`));
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: finishing in-flight requests`);
    await service.close();
    log('stopped');
    process.exit(0);
  });
}
