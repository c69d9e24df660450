import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CharCorpus, mobyDick } from '../src/data/corpus.js';
import type { CharTransformerConfig } from '../src/models/char-transformer.js';
import { loadModel } from '../src/serve/load.js';
import { trainDistributed } from '../src/train/distributed.js';
import { startService, type Service } from '../examples/service/app.js';

describe('example service (node:http)', function () {
  this.timeout(120_000);
  let file: string;
  before(async () => {
    file = join(mkdtempSync(join(tmpdir(), 'flexmoe-service-')), 'gpt.ckpt');
    const corpus = new CharCorpus(mobyDick().slice(0, 50_000));
    const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 16, dModel: 32, heads: 2, dFF: 64, layers: 1, seed: 3, moe: { experts: 4, topk: 2 } };
    await trainDistributed({ devices: 2, config, steps: 5, batch: 8, lr: 5e-3, corpusChars: 50_000, checkpoint: file });
  });

  const post = (s: Service, path: string, body: unknown, type = 'application/json') =>
    fetch(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('the server refuses bad flags, missing files and a busy port in one line before loading any model', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { createServer } = await import('node:net');
    const run = promisify(execFile);
    const server = new URL('../examples/service/server.ts', import.meta.url).pathname;
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = String((busy.address() as { port: number }).port);
    try {
      for (const [args, message] of [
        [['--prot', '9000'], /unknown flag --prot; did you mean --port\?/],
        [['--port', '99999'], /--port: expected an integer in \[0, 65535\], got "99999"/],
        [['--devices', 'x', '--generate', file], /--devices: expected an integer in \[1, 64\]/],
        [['--generate', '/no/such/model.ckpt'], /--generate: no such file: \/no\/such\/model.ckpt/],
        [['--generate', file, '--port', port], /cannot listen on 127.0.0.1:\d+: EADDRINUSE/],
      ] as [string[], RegExp][]) {
        await assert.rejects(run('node', ['--import', 'tsx', server, ...args], { timeout: 60_000 }), (e: { stderr: string; code: number }) => {
          assert.match(e.stderr, message);
          assert.equal(e.stderr.trim().split('\n').length, 1, `one line: ${e.stderr}`);
          assert.equal(e.code, 2);
          return true;
        });
      }
    } finally {
      busy.close();
    }
  });

  it('streams a generation as server-sent events when asked: the same text as the plain answer', async () => {
    const service = await startService({ generate: await loadModel(file), maxTokens: 64 });
    try {
      const plain = ((await (await post(service, '/v1/generate', { prompt: 'Call me', maxTokens: 12, seed: 2 })).json()) as { text: string }).text;
      const r = await post(service, '/v1/generate', { prompt: 'Call me', maxTokens: 12, seed: 2, stream: true });
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /text\/event-stream/);
      const events = (await r.text()).trim().split('\n\n');
      const tokens = events.filter((e) => e.startsWith('data: ')).map((e) => (JSON.parse(e.slice(6)) as { token: string }).token);
      assert.equal(tokens.length, 12);
      assert.equal(tokens.join(''), plain);
      const done = events.at(-1)!;
      assert.match(done, /^event: done\ndata: /);
      assert.equal((JSON.parse(done.split('data: ')[1]!) as { text: string }).text, plain);
      assert.equal((await post(service, '/v1/generate', { prompt: 'hi', stream: 'yes' })).status, 400);
    } finally {
      await service.close();
    }
  });

  it('/healthz sees a device thread die while idle within a second, and says "failed" for a model that will not come back', async () => {
    const { rmSync } = await import('node:fs');
    const { loadCheckpoint, saveCheckpoint } = await import('../src/train/checkpoint.js');
    const own = file.replace(/\.ckpt$/, '-health.ckpt');
    // A copy of its own, saved as one file (a sharded checkpoint is its manifest and the shards beside it).
    const whole = loadCheckpoint(file);
    saveCheckpoint(own, whole.meta, whole.tensors);
    const model = await loadModel(own, { devices: 2 });
    const service = await startService({ generate: model });
    const health = async () => {
      const r = await fetch(`${service.url}/healthz`);
      return { code: r.status, body: (await r.json()) as { status: string } };
    };
    const until = async (want: (h: { code: number; body: { status: string } }) => boolean, limitMs: number) => {
      const t0 = performance.now();
      for (;;) {
        const h = await health();
        if (want(h)) return performance.now() - t0;
        if (performance.now() - t0 > limitMs) throw new Error(`/healthz still answers ${h.code} ${JSON.stringify(h.body)} after ${limitMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      assert.equal((await health()).code, 200);
      (model.engine as unknown as { crashDevice(d: number, how: string): void }).crashDevice(1, 'exit');
      // Event-driven, so well under a second here; the bound only leaves room for a loaded CI machine.
      await until((h) => h.code === 503, 5000);
      await until((h) => h.code === 200 && h.body.status === 'ok', 30_000);
      assert.equal((await post(service, '/v1/generate', { prompt: 'Call me', maxTokens: 3 })).status, 200, 'serving again after the rebuild');
      // Without its checkpoint the devices cannot be rebuilt: after its retries the model is failed.
      rmSync(own);
      (model.engine as unknown as { crashDevice(d: number, how: string): void }).crashDevice(0, 'exit');
      await until((h) => h.code === 503 && h.body.status === 'failed', 30_000);
      assert.equal((await post(service, '/v1/generate', { prompt: 'Call me', maxTokens: 3 })).status, 503);
    } finally {
      await service.close();
    }
  });

  it('generates, reports health and Prometheus metrics, and refuses bad input with what is wrong', async () => {
    const service = await startService({ generate: await loadModel(file, { devices: 2, policy: 'flexmoe', slots: 4 }), maxTokens: 64 });
    try {
      assert.match(service.url, /^http:\/\/127\.0\.0\.1:\d+$/, 'loopback by default');
      const ok = await post(service, '/v1/generate', { prompt: 'Call me', maxTokens: 5, seed: 2 });
      assert.equal(ok.status, 200);
      assert.equal(((await ok.json()) as { text: string }).text.length, 5);
      const refusals: [unknown, number, RegExp, string?][] = [
        [{ prompt: '' }, 400, /generate: the prompt is empty/],
        [{ prompt: 3 }, 400, /"prompt" must be a string/],
        [{ prompt: 'hi ☃' }, 400, /character "☃" at position 3 is not in the vocabulary/],
        [{ prompt: 'hi', maxTokens: 1000 }, 400, /"maxTokens" must be an integer in \[1, 64\]/],
        [{ prompt: 'hi', temperature: 'hot' }, 400, /"temperature" must be a number/],
        ['{bad', 400, /not valid JSON/],
        ['[1]', 400, /must be a JSON object/],
        [{ prompt: 'x'.repeat(2 << 20) }, 413, /limit 1048576/],
        [{ prompt: 'hi' }, 415, /send JSON/, 'text/plain'],
        [{ images: [[1]] }, 404, /no vision model is loaded/],
      ];
      for (const [body, status, message, type] of refusals) {
        const path = (body as { images?: unknown }).images ? '/v1/classify' : '/v1/generate';
        const r = await post(service, path, body, type);
        assert.equal(r.status, status, JSON.stringify(body).slice(0, 60));
        assert.match(((await r.json()) as { error: string }).error, message);
      }
      assert.equal((await fetch(`${service.url}/v1/generate`)).status, 405);
      assert.equal((await fetch(`${service.url}/nope`)).status, 404);
      const health = await fetch(`${service.url}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok', models: { generate: { devices: 2, healthy: true, state: 'ok', queue: 0 } } });
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      for (const name of ['flexmoe_requests_total{route="/v1/generate",status="200"} 1', 'flexmoe_request_duration_seconds_bucket', 'flexmoe_batch_rows_bucket', 'flexmoe_queue_depth{model="generate"} 0',
        'flexmoe_expert_load{model="generate",layer="0",expert="0"}', 'flexmoe_balance_ratio{model="generate",layer="0"}', 'flexmoe_process_resident_memory_bytes']) {
        assert.ok(metrics.includes(name), `metrics has ${name}`);
      }
      // Where the passes' time went: each device's experts take part of it, unevenly at most by all of it.
      const value = (re: RegExp) => [...metrics.matchAll(re)].map((m) => Number(m[1]));
      const [pass] = value(/^flexmoe_pass_seconds_total\{model="generate"\} (\S+)$/gm), experts = value(/^flexmoe_expert_seconds_total\{model="generate",device="\d"\} (\S+)$/gm);
      const [imbalance] = value(/^flexmoe_expert_imbalance_seconds_total\{model="generate"\} (\S+)$/gm);
      assert.equal(experts.length, 2, 'expert time per device');
      assert.ok(experts.every((x) => x > 0 && x < pass!) && imbalance! >= 0 && imbalance! <= Math.max(...experts), `pass ${pass} s, experts ${experts} s, imbalance ${imbalance} s`);
    } finally {
      await service.close();
    }
  });

  it('overload answers 503 at once; SIGTERM-style close finishes the requests in flight', async () => {
    const model = await loadModel(file, { maxBatch: 1, maxQueue: 1 });
    const service = await startService({ generate: model });
    try {
      const tick = () => new Promise((r) => setImmediate(r));
      // One request running, one waiting: the queue (limit 1) is full.
      const inFlight = [post(service, '/v1/generate', { prompt: 'Ahab', maxTokens: 256, seed: 0 })];
      while (!model.stats.passes) await tick();
      inFlight.push(post(service, '/v1/generate', { prompt: 'Ahab', maxTokens: 256, seed: 1 }));
      while (model.queueDepth < 1) await tick();
      const refused = await post(service, '/v1/generate', { prompt: 'sea', maxTokens: 5 });
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '1');
      assert.match(((await refused.json()) as { error: string }).error, /overloaded: 1 requests are waiting \(limit 1\)/);
      await service.close();
      for (const r of await Promise.all(inFlight)) {
        assert.equal(r.status, 200, 'accepted requests finish during shutdown');
        assert.equal(((await r.json()) as { text: string }).text.length, 256);
      }
      await assert.rejects(fetch(`${service.url}/healthz`), 'the port is closed after shutdown');
    } finally {
      await service.close();
    }
  });
});
