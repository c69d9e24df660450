import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const run = promisify(execFile);
const bin = new URL('../bin/flexmoe.js', import.meta.url).pathname;

describe('flexmoe command line', function () {
  this.timeout(120_000);

  it('train --json prints one line per step and a summary with a sample', async () => {
    const { stdout } = await run('node', [bin, 'train', '--steps', '3', '--d-model', '16', '--layers', '1', '--seq', '8', '--sample', '10', '--json']);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 4);
    assert.deepEqual(Object.keys(lines[0]), ['step', 'loss', 'tokensPerSec', 'balanceRatio', 'droppedTokens', 'placementVersion']);
    assert.equal(lines[3].summary.model, 'gpt-moe');
    assert.equal(lines[3].summary.steps, 3);
    assert.equal([...lines[3].sample].length, 10);
    // The main job runs on as many devices as there are cores (up to the experts), with FlexMoE.
    const { availableParallelism } = await import('node:os');
    const devices = Math.min(availableParallelism(), 4, 8);
    assert.equal(lines[3].summary.devices, devices);
    if (devices > 1) {
      assert.equal(lines[3].summary.policy, 'flexmoe');
      assert.ok(lines[3].summary.balanceFirst >= 1 && lines[3].summary.headroom >= 1, JSON.stringify(lines[3].summary));
    }
  });

  it("the run's summary says what the scheduler saw and did, or why it did nothing", async () => {
    const { schedulerSummary } = await import('../src/cli/train.js');
    const steps = (balance: number, imbalanceMs: number) => ({ balance: Array(20).fill(balance), stepMs: Array(20).fill(20), imbalanceMs: Array(20).fill(imbalanceMs) });
    const even = schedulerSummary(steps(1.02, 0.2), 'flexmoe', 0);
    assert.equal(even.headroom, 1.0101);
    assert.match(even.text, /max\/mean 1\.02 .*headroom 1\.010× .*no re-plan: a perfect balance could win back under 5% of a step/);
    assert.match(schedulerSummary(steps(1.8, 5), 'flexmoe', 0).text, /headroom 1\.333× .*no re-plan: no plan's predicted gain beat the cost of moving its experts/);
    assert.match(schedulerSummary(steps(1.8, 5), 'flexmoe', 3).text, /; 3 re-plan\(s\)$/);
    assert.match(schedulerSummary(steps(1.8, 5), 'static-unpadded', 0).text, /no re-plan: static-unpadded keeps its placement/);
  });

  it('train --module FILE --model NAME trains a model of your own on devices', async () => {
    const mod = new URL('../examples/my-moe.ts', import.meta.url).pathname;
    const { stdout } = await run('node', [bin, 'train', '--module', mod, '--model', 'my-moe', '--devices', '2', '--steps', '2', '--d-model', '16', '--seq', '8', '--json']);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.at(-1).summary.model, 'my-moe');
    assert.equal(lines.at(-1).summary.devices, 2);
    assert.ok(lines.at(-1).summary.lastLoss > 0);
  });

  it('simulate --module FILE compares a policy of your own by name', async () => {
    const mod = new URL('../examples/hottest-everywhere.ts', import.meta.url).pathname;
    const { stdout } = await run('node', [bin, 'simulate', '--module', mod, '--workload', 'zipf:2', '--experts', '16', '--devices', '4', '--slots', '8', '--steps', '20', '--policies', 'static,flexmoe,hottest-everywhere', '--json']);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.slice(0, 3).map((l) => l.policy), ['static', 'flexmoe', 'hottest-everywhere']);
    assert.equal(lines[2].replans, 1);
    assert.ok(lines[3].speedup['flexmoe/hottest-everywhere'] > 0);
    // On a pool of worker threads (one policy per task, the module imported in each): the same numbers.
    const pooled = (await run('node', [bin, 'simulate', '--module', mod, '--workload', 'zipf:2', '--experts', '16', '--devices', '4', '--slots', '8', '--steps', '20', '--policies', 'static,flexmoe,hottest-everywhere', '--threads', '2', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(pooled.slice(0, 3).map((l) => [l.policy, l.meanStepMs, l.replans]), lines.slice(0, 3).map((l) => [l.policy, l.meanStepMs, l.replans]));
    assert.deepEqual(pooled[3].speedup, lines[3].speedup);
    await assert.rejects(run('node', [bin, 'simulate', '--workload', 'zipf:2', '--policies', 'static,hottest-everywhere']), (e: { stderr: string }) => /unknown policy "hottest-everywhere".*registerPolicy in a module/.test(e.stderr));
  });

  it('train --policy fastermoe says which experts each step shadowed', async () => {
    const { stdout } = await run('node', [bin, 'train', '--devices', '2', '--policy', 'fastermoe', '--router-skew', '2', '--steps', '4', '--d-model', '16', '--layers', '1', '--seq', '8', '--json']);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 5);
    for (const l of lines.slice(0, 4)) assert.ok(Array.isArray(l.shadows) && l.shadows.length === 1 && l.placementVersion === 0, JSON.stringify(l));
    assert.equal(lines[4].summary.policy, 'fastermoe');
    assert.equal(lines[4].summary.shadowedSteps, lines.slice(0, 4).filter((l) => l.shadows[0].length).length);
  });

  it('train --profile FILE plans with that profile (a calibrated one), and refuses one where nothing plans', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmoe-profile-'));
    try {
      // Top-1 under a strong router skew: one hot expert. FasterMoE shadows it when its weights travel
      // for free, never when they crawl.
      const write = (name: string, gbps: number) => {
        const file = join(dir, name);
        // Wide experts on fast compute: a shadow's weights are 128 MB, a token's features 64 bytes.
        writeFileSync(file, JSON.stringify({ name, devicesPerNode: 1, intraNodeGBps: gbps, interNodeGBps: gbps, expertTflops: 1000, dModel: 16, dFF: 1 << 20 }));
        return file;
      };
      const shadowed = async (file: string) => {
        const { stdout } = await run('node', [bin, 'train', '--devices', '2', '--policy', 'fastermoe', '--router-skew', '2', '--topk', '1', '--steps', '3', '--d-model', '16', '--layers', '1', '--seq', '8', '--profile', file, '--json']);
        return JSON.parse(stdout.trim().split('\n').at(-1)!).summary.shadowedSteps;
      };
      assert.equal(await shadowed(write('free.json', 1e9)), 3);
      assert.equal(await shadowed(write('crawl.json', 1)), 0);
      await assert.rejects(run('node', [bin, 'train', '--devices', '2', '--policy', 'static', '--steps', '2', '--profile', join(dir, 'free.json')]), (e: { stderr: string }) => /--profile: a cost profile is for live policies on 2 or more devices; static keeps its placement/.test(e.stderr));
      writeFileSync(join(dir, 'bad.json'), JSON.stringify({ intraNodeGBps: -1 }));
      await assert.rejects(run('node', [bin, 'train', '--devices', '2', '--policy', 'flexmoe', '--steps', '2', '--profile', join(dir, 'bad.json')]), (e: { stderr: string }) => /intraNodeGBps/.test(e.stderr));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('compare runs the live policies side by side on one model and says how they did against the first', async () => {
    const { stdout } = await run('node', [bin, 'compare', '--policies', 'static-unpadded,fastermoe', '--steps', '4', '--rounds', '2', '--d-model', '16', '--layers', '1', '--seq', '8', '--topk', '1', '--routing', 'zipf:2,drift', '--predict', '--json']);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 11, 'a line per policy and round, a line per calibration run, then the summary');
    // Round 0 runs static-unpadded first, round 1 the other way round; --predict's calibration runs
    // (unskewed routing, at the batch, with its rows on one expert per device, and with half its
    // experts on every device) take their turns in the same rotation.
    assert.deepEqual(lines.slice(0, 10).map((l) => `${l.round}:${l.policy ?? l.calibration}`), ['0:static-unpadded', '0:fastermoe', '0:full', '0:wide', '0:replicated', '1:replicated', '1:wide', '1:full', '1:fastermoe', '1:static-unpadded']);
    for (const l of lines.filter((l) => l.calibration)) assert.ok(l.stepMs > 0, JSON.stringify(l));
    const { summary } = lines[10];
    assert.equal(summary.baseline, 'static-unpadded');
    assert.deepEqual(summary.policies.map((p: { policy: string }) => p.policy), ['static-unpadded', 'fastermoe']);
    const [st, fm] = summary.policies;
    assert.equal(st.overBaseline, 1);
    assert.ok(fm.tokensPerSec > 0 && fm.perRound.length === 2);
    assert.ok(fm.lossRelDiff <= 1e-5, 'shadowing changes no loss');
    // The experts' compute time, and the imbalance a placement could remove from it.
    for (const p of summary.policies) assert.ok(p.expertMs > 0 && p.imbalanceMs >= 0 && p.imbalanceMs <= p.expertMs, JSON.stringify(p));
    // The headroom is read from the static-unpadded runs; --predict's full-batch calibration runs
    // (uniform routing) measure the imbalance no placement removes, and the headroom beyond it.
    const h = summary.headroom;
    assert.ok(h.bound >= 1 && h.floorMs >= 0 && h.beyondFloor >= 1 && h.beyondFloor <= h.bound, JSON.stringify(h));
    assert.equal(h.beyondFloor, Math.round(1e4 * (h.stepMs / (h.stepMs - Math.max(0, h.imbalanceMs - h.floorMs)))) / 1e4);
    // Each policy's share of it, from its speed-up over static-unpadded: the median over rounds of
    // the ratio within a round (two rounds: their mean).
    const ratios = fm.perRound.map((x: number, i: number) => x / st.perRound[i]);
    assert.ok(Math.abs(fm.speedup - (ratios[0] + ratios[1]) / 2) < 1e-12, JSON.stringify(fm));
    assert.equal(fm.captured, h.bound > 1 ? (fm.speedup - 1) / (h.bound - 1) : null);
    // --predict: the simulator's step times for the recorded routing, beside the measured ones.
    assert.ok(st.stepMs > 0 && st.predictedStepMs > 0 && fm.predictedStepMs > 0, JSON.stringify(summary.policies));
    assert.equal(st.predictedOverBaseline, 1);
    // Raw predictions: the time no placement changes comes from calibration runs of their own.
    assert.ok(summary.unmodelledMs >= 0, JSON.stringify(summary));
    for (const p of summary.policies) assert.ok(Number.isFinite(p.predictionError) && Math.abs(p.predictionError - (p.predictedStepMs / p.stepMs - 1)) < 1e-3, JSON.stringify(p));
    assert.ok(Number.isFinite(fm.predictedOverBaseline));
    await assert.rejects(run('node', [bin, 'compare', '--policies', 'static']), (e: { stderr: string }) => /--policies: name at least two policies to compare/.test(e.stderr));
    await assert.rejects(run('node', [bin, 'compare', '--policies', 'static,oracle']), (e: { stderr: string }) => /the oracle is a lower bound/.test(e.stderr));
    // Every step left out of the medians would leave none to time.
    await assert.rejects(run('node', [bin, 'compare', '--steps', '8', '--warm', '8']), (e: { stderr: string }) => /--warm: expected an integer in \[0, 7\], got "8"/.test(e.stderr));
  });

  it('calibrate with model flags prints a profile with the experts\' cost and the time no placement changes', async () => {
    const { stdout } = await run('node', [bin, 'calibrate', '--devices', '2', '--d-model', '16', '--layers', '1', '--seq', '8', '--batch', '8']);
    const p = JSON.parse(stdout) as Record<string, number>;
    assert.equal(p.dModel, 16);
    assert.equal(p.dFF, 32, 'the model flags\' default width');
    for (const k of ['expertTflops', 'intraNodeGBps']) assert.ok(p[k]! > 0, `${k} = ${p[k]}`);
    for (const k of ['expertCallMs', 'expertHeldMs', 'unmodelledMs']) assert.ok(Number.isFinite(p[k]) && p[k]! >= 0, `${k} = ${p[k]}`);
  });

  it('flags are strict: an unknown or misspelt flag is refused with the nearest known one, a missing value is named, each command has its help, and --version works', async () => {
    const fails = async (args: string[], message: RegExp) => {
      await assert.rejects(run('node', [bin, ...args]), (e: { stderr: string; code: number }) => {
        assert.match(e.stderr, message);
        assert.equal(e.stderr.trim().split('\n').length, 1, `one line: ${e.stderr}`);
        assert.equal(e.code, 2);
        return true;
      });
    };
    await fails(['train', '--checkpiont', 'x'], /^flexmoe: train: unknown flag --checkpiont; did you mean --checkpoint\?/);
    await fails(['train', '--steps'], /train: --steps needs a value/);
    await fails(['simulate', '--json=yes'], /simulate: --json takes no value/);
    await fails(['train', 'extra'], /train: unexpected argument "extra"/);
    await fails(['trian'], /unknown command "trian".*did you mean "train"/);
    // Sizes and paths are checked before anything is allocated or trained.
    await fails(['train', '--devices', '1e9'], /--devices: expected an integer in \[1, 64\], got "1e9"/);
    await fails(['train', '--d-model', '1000000'], /model size: .* need about \d+(\.\d)? GiB .*the limit here is/);
    await fails(['simulate', '--trace', '/no/such/trace.jsonl', '--devices', '2', '--slots', '2'], /trace: cannot read \/no\/such\/trace.jsonl: ENOENT/);
    await fails(['notebook', '/no/such/notebook.ts', '--run-all'], /notebook: no such file: \/no\/such\/notebook.ts/);
    // File inputs are checked as structure: a trace that routes nothing, a profile with a typo.
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'flexmoe-cli-'));
    const head = JSON.stringify({ format: 'flexmoe-trace/1', experts: 4, layers: 1, topk: 1, sourceDevices: 1 });
    writeFileSync(join(dir, 'zero.jsonl'), `${head}\n{"step":0,"layer":0,"counts":[0,0,0,0]}\n`);
    await fails(['simulate', '--trace', join(dir, 'zero.jsonl'), '--devices', '2', '--slots', '2', '--policies', 'static,flexmoe'], /simulate: the ratio flexmoe\/static came out NaN/);
    writeFileSync(join(dir, 'typo.json'), '{"intraNodeGbps": 5}');
    await fails(['simulate', '--workload', 'zipf:1', '--experts', '8', '--devices', '2', '--slots', '4', '--profile', join(dir, 'typo.json')], /--profile: .*typo.json: unknown field "intraNodeGbps"/);
    const help = await run('node', [bin, 'simulate', '--help']);
    assert.match(help.stdout, /^usage: flexmoe simulate/);
    assert.doesNotMatch(help.stdout, /flexmoe train/, 'only its own help');
    const version = await run('node', [bin, '--version']);
    assert.match(version.stdout, /^flexmoe \d+\.\d+\.\d+/);
  });

  it('an unknown command or backend fails with a message listing the known ones', async () => {
    await assert.rejects(run('node', [bin, 'fly']), (e: { stderr: string; code: number }) => {
      assert.match(e.stderr, /unknown command "fly"; known commands: train, simulate/);
      assert.equal(e.code, 2, "a user error exits 2");
      return true;
    });
    await assert.rejects(run('node', [bin, 'train', '--backend', 'tpu', '--steps', '1']), (e: { stderr: string }) => /unknown backend "tpu"; available: reference, wasm-simd, gpujs-webgpu/.test(e.stderr));
    await assert.rejects(run('node', [bin, 'train', '--routing', 'zipf']), (e: { stderr: string }) => /--routing: "zipf" is not zipf:S\[,drift\]/.test(e.stderr));
    await assert.rejects(run('node', [bin, 'train', '--model', 'gpt-7']), (e: { stderr: string }) => /unknown model "gpt-7"; known: gpt-moe, bert-moe, vision-moe, dense/.test(e.stderr));
    await assert.rejects(run('node', [bin, 'train', '--devices', '2', '--policy', 'oracle']), (e: { stderr: string }) => /the oracle is a lower bound .*; live training supports static, static-unpadded, flexmoe, eplb, fastermoe, flexmoe-react/.test(e.stderr));
  });
});
