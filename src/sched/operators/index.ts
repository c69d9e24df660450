export { foldSteps, type LoadEvent, type StepLoad } from './fold-steps.js';
export { windowLoad, type Estimator, type LoadEstimate } from './window-load.js';
export { balance, type BalanceSample } from './balance.js';
export { trigger } from './trigger.js';
export { replan } from './replan.js';
