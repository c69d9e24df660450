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
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadModel } from '../../src/index.js';
import { startService } from './app.js';
import { demoLanguageCheckpoint, demoVisionCheckpoint } from './demo.js';

const { values } = parseArgs({
  options: {
    generate: { type: 'string' }, classify: { type: 'string' }, demo: { type: 'boolean' },
    host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '8080' },
    devices: { type: 'string', default: '2' }, policy: { type: 'string', default: 'flexmoe' }, module: { type: 'string' }, slots: { type: 'string' },
    'max-batch': { type: 'string', default: '16' }, 'max-queue': { type: 'string', default: '64' }, 'max-wait-ms': { type: 'string', default: '2' },
  },
});
const log = (s: string) => process.stderr.write(`flexmoe service: ${s}\n`);
let { generate, classify } = values;
if (values.demo || (!generate && !classify)) {
  mkdirSync('flexmoe-demo', { recursive: true });
  generate ??= await demoLanguageCheckpoint(join('flexmoe-demo', 'gpt-moe.ckpt'), 300, log);
  classify ??= await demoVisionCheckpoint(join('flexmoe-demo', 'vision-moe.ckpt'), 100, log);
}
const opts = {
  devices: Number(values.devices), policy: values.policy, modules: values.module ? [values.module] : [], slots: values.slots ? Number(values.slots) : undefined,
  maxBatch: Number(values['max-batch']), maxQueue: Number(values['max-queue']), maxWaitMs: Number(values['max-wait-ms']),
};
const lm = generate ? await loadModel(generate, opts) : undefined;
const vision = classify ? await loadModel(classify, opts) : undefined;
const service = await startService({ generate: lm, classify: vision, host: values.host, port: Number(values.port) });
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
