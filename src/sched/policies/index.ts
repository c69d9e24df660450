import { errors } from '../../errors.js';
import type { Policy } from '../policy.js';
import { capacityPolicy } from './capacity.js';
import { eplbPolicy } from './eplb.js';
import { fastermoePolicy } from './fastermoe.js';
import { flexmoePolicy } from './flexmoe.js';
import { oraclePolicy } from './oracle.js';
import { staticPolicy } from './static.js';

/** The built-in policies by name; each call makes a fresh instance (policies may keep state). */
export const policyFactories: Record<string, () => Policy> = {
  static: staticPolicy,
  capacity: () => capacityPolicy(),
  fastermoe: fastermoePolicy,
  eplb: () => eplbPolicy(),
  flexmoe: () => flexmoePolicy(),
  'flexmoe-react': () => flexmoePolicy({ react: true }),
  oracle: oraclePolicy,
};

export function makePolicy(name: string): Policy {
  const f = policyFactories[name];
  if (!f) throw errors.badArgument('policy', `unknown policy "${name}"; known: ${Object.keys(policyFactories).join(', ')}`);
  return f();
}

export { capacityPolicy, eplbPolicy, fastermoePolicy, flexmoePolicy, oraclePolicy, staticPolicy };

/**
 * How the built-ins run live (training and serving): those that re-plan between steps, in the
 * scheduler actor, and those that shadow experts within a step, on the devices (their `dispatch`
 * answers `shadow` from the step's routing alone). flexmoe-react does both.
 */
export const schedulerPolicies: readonly string[] = ['flexmoe', 'eplb', 'flexmoe-react'];
export const shadowingPolicies: readonly string[] = ['fastermoe', 'flexmoe-react'];
/** Every built-in that runs live (training and serving): static and the two kinds above. The others (capacity as a policy, the oracle) exist in flexmoe simulate only. */
export const livePolicies: readonly string[] = ['static', 'flexmoe', 'eplb', 'fastermoe', 'flexmoe-react'];
