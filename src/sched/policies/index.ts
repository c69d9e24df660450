import { availableParallelism } from 'node:os';
import { errors } from '../../errors.js';
import type { Policy } from '../policy.js';
import { capacityPolicy } from './capacity.js';
import { eplbPolicy } from './eplb.js';
import { fastermoePolicy } from './fastermoe.js';
import { flexmoePolicy } from './flexmoe.js';
import { foresightFreePolicy, foresightPolicy } from './foresight.js';
import { oraclePolicy } from './oracle.js';
import { staticPolicy, staticUnpaddedPolicy } from './static.js';

/** The built-in policies by name; each call makes a fresh instance (policies may keep state). */
export const policyFactories: Record<string, () => Policy> = {
  static: staticPolicy,
  'static-unpadded': staticUnpaddedPolicy,
  capacity: () => capacityPolicy(),
  fastermoe: fastermoePolicy,
  eplb: () => eplbPolicy(),
  flexmoe: () => flexmoePolicy(),
  'flexmoe-react': () => flexmoePolicy({ react: true }),
  oracle: oraclePolicy,
  foresight: foresightPolicy,
  'foresight-free': foresightFreePolicy,
};

/** Policies of your own, by name (`registerPolicy`): per thread, so a module the devices load registers them there too. */
const registered = new Map<string, () => Policy>();

/**
 * Makes a policy of your own known by name, as the built-ins are: to `simulate`, `makePolicy`,
 * live training (it runs in the scheduler actor, between steps) and serving. Call it at the top
 * level of a module and list that module where the devices load modules (`modules` in
 * trainDistributed / Trainer / loadModel, `--module FILE` on the command line): the scheduler
 * actor makes its policy on a device, so the device must have run the registration too.
 * Registering a name again replaces it (as registerTask does: a notebook re-running its cell, a
 * module loaded twice).
 */
export function registerPolicy(name: string, factory: () => Policy): void {
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw errors.badArgument('registerPolicy', `policy name ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-' (not starting with one of the last three)`);
  }
  if (name in policyFactories) throw errors.badArgument('registerPolicy', `"${name}" is a built-in policy; give yours another name`);
  if (typeof factory !== 'function') throw errors.badArgument('registerPolicy', `policy "${name}": expected a function that makes the policy, got ${typeof factory}`);
  registered.set(name, factory);
}

/** The names of the policies registered with `registerPolicy` in this thread. */
export function userPolicies(): string[] {
  return [...registered.keys()];
}

export function makePolicy(name: string): Policy {
  const f = policyFactories[name] ?? registered.get(name);
  if (!f) {
    const known = [...Object.keys(policyFactories), ...registered.keys()].join(', ');
    throw errors.badArgument('policy', `unknown policy "${name}"; known: ${known} (a policy of your own: registerPolicy in a module listed in modules / --module FILE)`);
  }
  const policy = f();
  if (policyFactories[name]) return policy;
  const missing = (['initial', 'decide', 'dispatch'] as const).filter((k) => typeof (policy as unknown as Record<string, unknown> | null)?.[k] !== 'function');
  if (missing.length) throw errors.badArgument('policy', `policy "${name}" made an object without ${missing.join(', ')} (a Policy needs initial, decide and dispatch)`);
  return policy;
}

export { capacityPolicy, eplbPolicy, fastermoePolicy, flexmoePolicy, foresightFreePolicy, foresightPolicy, oraclePolicy, staticPolicy, staticUnpaddedPolicy };

/**
 * How the built-ins run live (training and serving): those that re-plan between steps, in the
 * scheduler actor, and those that shadow experts within a step, on the devices (their `dispatch`
 * answers `shadow` from the step's routing alone). flexmoe-react does both.
 */
export const schedulerPolicies: readonly string[] = ['flexmoe', 'eplb', 'flexmoe-react'];
export const shadowingPolicies: readonly string[] = ['fastermoe', 'flexmoe-react'];
/** The built-ins that keep the round-robin placement (static pads as DeepSpeed does; static-unpadded does not). */
export const fixedPolicies: readonly string[] = ['static', 'static-unpadded'];
/** Every built-in that runs live (training and serving): the fixed ones and the two kinds above. The others (capacity as a policy, the oracle) exist in flexmoe simulate only. */
export const livePolicies: readonly string[] = [...fixedPolicies, 'flexmoe', 'eplb', 'fastermoe', 'flexmoe-react'];

/**
 * The policy live training and serving run when none is named: the fixed placement computing
 * exact rows. `static` (DeepSpeed's padded buffers) is the paper's baseline, there to be compared
 * against, not a default: padded, a skewed step computes the hottest expert's rows on every expert.
 */
export const defaultLivePolicy = 'static-unpadded';

/** Whether `name` keeps the round-robin placement and needs no cost profile live (static, static-unpadded). */
export function isFixedPlacement(name: string): boolean {
  return fixedPolicies.includes(name);
}

/** Whether `name` pads every hosted expert's buffer to the step's largest expert live (DeepSpeed dropless: static). */
export function padsToMax(name: string): boolean {
  return name === 'static';
}

/**
 * Whether the scheduler actor gets a service device of its own beside `devices` devices: only when
 * the machine has a core to spare for it (a thread more than there are cores costs the devices more
 * than planning beside them does; bench/scheduler-thread.ts). Training and serving both ask this.
 */
export function schedulerHasSpareCore(devices: number): boolean {
  return availableParallelism() > devices;
}

/** Whether `name` re-plans in the scheduler actor live: a built-in that does, or a policy of your own. */
export function runsInScheduler(name: string): boolean {
  return schedulerPolicies.includes(name) || registered.has(name);
}

/** Whether live training and serving can run `name`: a live built-in or a policy of your own. */
export function isLivePolicy(name: string): boolean {
  return livePolicies.includes(name) || registered.has(name);
}

const notLive: Record<string, string> = {
  capacity: 'capacity dropping is a gate option in live training: use static placement with a capacity factor (--capacity-factor F)',
  oracle: 'the oracle is a lower bound that no real placement reaches: it exists in flexmoe simulate only',
  foresight: 'foresight plans from each step\'s own routing before it runs, a bound that no real placement reaches: it exists in flexmoe simulate only',
  'foresight-free': 'foresight-free plans from each step\'s own routing and moves experts for free, a bound that no real placement reaches: it exists in flexmoe simulate only',
};

/** Refuses a policy live training cannot run (`livePolicies` and policies of your own), saying what to use instead. */
export function checkLivePolicy(policy: string): void {
  if (isLivePolicy(policy)) return;
  throw errors.badArgument('--policy', `${notLive[policy] ?? `unknown live policy "${policy}"`}; live training supports ${livePolicies.join(', ')} and policies of your own (registerPolicy in a module: --module FILE)`);
}
