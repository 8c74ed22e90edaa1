/** The controller entry of the package: the API, the pure core and the controller. */
export * from "./api/names.ts";
export {
  parseSpec,
  policySpecSchema,
  policyStatusSchema,
  type PolicySpec,
  type PolicyStatus,
} from "./api/policy.ts";
export { policyCrd, policyCrdYaml } from "./api/crd.ts";
export { Controller, type ControllerOptions } from "./controller/controller.ts";
export { LeaderElector, type LeaderElectionOptions, type LeaseClient } from "./controller/leader.ts";
export { reconcile, type Observed, type Outcome } from "./controller/reconcile.ts";
