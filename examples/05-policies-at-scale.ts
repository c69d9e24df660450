// %% [markdown]
// # Placement policies at a scale this machine cannot hold
//
// The simulator steps every policy through the same routing on a simulated cluster (`cluster-a100`:
// 8 GPUs per node, NVLink inside, 12.5 GB/s between nodes) and prices each step with the cost model.
// The workload here is an extreme one, Zipf 1.5 over 64 experts with the hot set drifting: a layer's
// hottest expert gets about 27× the mean, far beyond what learned routers show (about 1.1–1.5×;
// docs/benchmarks.md has those calibrated families, where placement has little to win).

// %%
import { simulate, SyntheticWorkload, parseWorkload, clusterA100, display, lineChart, barChart, table } from 'flexmoe';

const quick = process.env.FLEXMOE_QUICK === '1';
const devices = quick ? 8 : 32;
const experts = 64;
const steps = quick ? 60 : 200;
const source = new SyntheticWorkload(parseWorkload('zipf:1.5,drift'), experts, 2, steps, 4096, 1);
const { reports, speedup } = simulate({ source, devices, slots: (2 * experts) / devices, profile: clusterA100, policies: ['static', 'static-unpadded', 'capacity', 'fastermoe', 'eplb', 'flexmoe', 'flexmoe-react', 'foresight', 'foresight-free', 'oracle'] });

// %% [markdown]
// Mean step time per policy, and FlexMoE's speedups. `flexmoe` plans beside the steps from recent
// load, as the paper's FlexMoE (and this project's live executor) does; `flexmoe-react` also plans
// right after gating when an expert surges, and pays for that planning and the move in the step
// (and shadows, within the step, experts its placement cannot absorb, as it does live). Three
// bounds close the list: `foresight`, FlexMoE's planner run on each step's own routing before it
// runs, paying for its moves (the yardstick for planning from history); `foresight-free`, the same
// with free moves; and `oracle`, a free perfect split with no replicas to keep in sync. Read the
// speedups against `static-unpadded` (each expert's exact rows); `static` pads every expert to the
// largest, as DeepSpeed's dropless mode does.

// %%
display(barChart({ title: `mean step time (ms), ${devices} devices, Zipf 1.5 with drift`, labels: reports.map((r) => r.policy), values: reports.map((r) => r.meanStepMs) }));
display(table(['policy', 'mean ms', 'balance', 'dropped', 're-plans'], reports.map((r) => [r.policy, r.meanStepMs, r.balanceRatio, `${(r.droppedFraction * 100).toFixed(0)}%`, r.replans])));
display(table(['speedup', 'x'], Object.entries(speedup).map(([k, v]) => [k, v])));

// %% [markdown]
// Balance over time: FlexMoE re-plans when the hot set drifts (dashed lines). Each drift spikes
// its balance ratio for a step; flexmoe-react plans within that step.

// %%
const flex = reports.find((r) => r.policy === 'flexmoe')!;
display(lineChart({ title: 'balance ratio (max ÷ mean device load)', series: ['static', 'fastermoe', 'flexmoe', 'flexmoe-react'].map((p) => ({ name: p, values: reports.find((r) => r.policy === p)!.balance })), markers: flex.replanSteps, xLabel: 'step' }));
console.log(`flexmoe re-planned ${flex.replans} times; mean planning time ${flex.planMsMean.toFixed(2)} ms`);
