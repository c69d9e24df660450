import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const bin = new URL('../bin/flexmoe.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'flexmoe-bad-'));
const file = (name: string, body: string) => (writeFileSync(join(dir, name), body), join(dir, name));
const head = (h: object = {}) => JSON.stringify({ format: 'flexmoe-trace/1', experts: 4, layers: 1, topk: 2, sourceDevices: 1, ...h });
const sim = ['simulate', '--devices', '2', '--slots', '4'];

/**
 * Careless and bad input to the command line, by category: each gets one line naming what is
 * wrong, and exit code 2, before anything is trained or allocated. (Checkpoints with a valid
 * checksum and a bad structure are covered in test/distributed.test.ts; the example server's flags
 * in test/service.test.ts.)
 */
const table: [category: string, args: () => string[], message: RegExp][] = [
  ['flags: misspelt', () => ['train', '--stpes', '3'], /unknown flag --stpes; did you mean --steps\?/],
  ['flags: missing value', () => ['train', '--lr'], /--lr needs a value/],
  ['flags: not a number', () => ['train', '--lr', 'fast'], /--lr: expected a number, got "fast"/],
  ['flags: stray argument', () => ['simulate', 'now'], /unexpected argument "now"/],
  ['flags: unknown command', () => ['trian'], /unknown command "trian".*did you mean "train"/],
  ['sizes: zero', () => ['train', '--steps', '0'], /--steps: expected an integer in \[1, /],
  ['sizes: huge', () => ['train', '--devices', '1e9'], /--devices: expected an integer in \[1, 64\]/],
  ['sizes: past memory', () => ['train', '--batch', '100000000'], /model size: .*GiB/],
  ['sizes: heads that do not divide', () => ['train', '--heads', '3'], /--heads: --d-model 64 does not split into 3 heads/],
  ['sizes: top-k above the experts', () => ['train', '--topk', '5'], /--topk: top-5 needs at least 5 experts/],
  ['sizes: devices above the experts', () => ['train', '--devices', '8', '--experts', '4'], /8 devices for 4 experts/],
  ['paths: checkpoint folder missing', () => ['train', '--checkpoint', join(dir, 'no', 'x.ckpt')], /checkpoint: cannot write .*ENOENT \(checked before training starts\)/],
  ['paths: resume file missing', () => ['train', '--resume', join(dir, 'none.ckpt')], /resume: cannot read .*ENOENT/],
  ['paths: trace folder missing', () => ['train', '--record-trace', join(dir, 'no', 't.jsonl')], /record-trace: cannot write .*ENOENT/],
  ['paths: module missing', () => ['train', '--module', join(dir, 'none.ts'), '--model', 'x'], /module .*none\.ts failed to import/],
  ['paths: notebook missing', () => ['notebook', join(dir, 'none.ts'), '--run-all'], /notebook: no such file/],
  ['checkpoints: not one', () => ['train', '--resume', file('text.ckpt', 'hello'), '--devices', '2'], /text\.ckpt is not a flexmoe checkpoint \(bad magic\)/],
  ['traces: not JSON', () => [...sim, '--trace', file('a.jsonl', `${head()}\nnope\n`)], /line 2 is not JSON/],
  ['traces: infinite counts', () => [...sim, '--trace', file('b.jsonl', `${head()}\n{"step":0,"layer":0,"counts":[1e400,1,1,1]}\n`)], /counts must be 4 finite/],
  ['traces: a billion experts', () => [...sim, '--trace', file('c.jsonl', head({ experts: 1e9 }))], /"experts" must be an integer from 1 to 65536/],
  ['traces: top-k above the experts', () => [...sim, '--trace', file('d.jsonl', head({ topk: 9 }))], /topk 9 is more than the 4 experts/],
  ['traces: routing nothing', () => [...sim, '--trace', file('e.jsonl', `${head()}\n{"step":0,"layer":0,"counts":[0,0,0,0]}\n`), '--policies', 'static,flexmoe'], /the ratio flexmoe\/static came out NaN/],
  ['workloads: bad spec', () => [...sim, '--workload', 'zipf:-1'], /"zipf:-1" is not zipf:S/],
  ['workloads: top-k above the experts', () => [...sim, '--workload', 'zipf:1', '--experts', '4', '--topk', '5'], /topk 5 must be an integer from 1 to the 4 experts/],
  ['profiles: unknown field', () => [...sim, '--workload', 'zipf:1', '--experts', '8', '--profile', file('p.json', '{"expertFlops": 1}')], /unknown field "expertFlops"/],
  ['profiles: non-finite', () => [...sim, '--workload', 'zipf:1', '--experts', '8', '--profile', file('q.json', '{"intraNodeGBps": 1e999}')], /"intraNodeGBps" is Infinity; expected a positive, finite bandwidth/],
  ['profiles: unknown name', () => [...sim, '--workload', 'zipf:1', '--experts', '8', '--profile', 'cluster-z'], /unknown profile "cluster-z"/],
  ['policies: unknown', () => [...sim, '--workload', 'zipf:1', '--experts', '8', '--policies', 'static,greedy'], /unknown policy "greedy"/],
  ['backends: unknown', () => ['train', '--backend', 'tpu', '--steps', '1'], /unknown backend "tpu"/],
];

describe('bad input to the command line: one named line, exit 2, nothing run', function () {
  this.timeout(60_000);
  for (const [category, args, message] of table) {
    it(category, async () => {
      await assert.rejects(run('node', [bin, ...args()]), (e: { stderr: string; code: number }) => {
        assert.match(e.stderr, message);
        assert.equal(e.stderr.trim().split('\n').length, 1, `one line: ${e.stderr}`);
        assert.equal(e.code, 2, e.stderr);
        return true;
      });
    });
  }
});
