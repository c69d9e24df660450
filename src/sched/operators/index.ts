export { foldSteps, type LoadEvent, type StepLoad } from './fold-steps.js';
export { loadViews } from './load-views.js';
export { windowLoad, estimateLoad, riseEstimate, surging, type Estimator, type LayerLoad, type LoadEstimate } from './window-load.js';
export { balance, type BalanceSample } from './balance.js';
export { trigger, type TriggerState } from './trigger.js';
