/** The data of the reconcile chain (../reconcile.ts): what it observes, what it decides. */
import type { V1Secret } from "@kubernetes/client-node";
import type { PolicyObject, PolicySpec, PolicyStatus } from "../../api/policy.ts";
import type { Ring } from "../../core/ring.ts";
import type { Random } from "../../core/schedule.ts";

export interface PolicyEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

/**
 * The ring this controller last wrote for the policy, or last read from its Secret as good, and
 * the tokens that Secret recorded as handled: kept in memory, so that an edited, replayed,
 * broken or deleted ring.json is replaced by it instead of being trusted or regenerated.
 */
export interface HeldRing {
  /** the Secret it is in (after a change of spec.secretName, the new Secret starts afresh) */
  secretName: string;
  ring: Ring;
  handled: Record<string, string>;
}

export interface Observed {
  policy: PolicyObject;
  /** The Secret named by the policy, as last seen (undefined: it does not exist). */
  secret: V1Secret | undefined;
  /** What this controller holds for the policy; undefined after a start or a leader change. */
  held?: HeldRing | undefined;
  now: number;
  random: Random;
}

export interface Outcome {
  /** The full intent of the Secret to apply, or undefined when nothing must be written. */
  secret?: V1Secret;
  status: PolicyStatus;
  events: PolicyEvent[];
  /** When to run again (epoch ms); undefined: only when something changes. */
  requeueAt?: number;
  /** The ring in force once `secret` is written (or as read): what to hold next. */
  held?: HeldRing;
}

/** What every step reads: the observed state and the status as last written. */
export interface Context extends Observed {
  prior: PolicyStatus;
}

/** A step's terminal answer: the reconcile ends with this outcome. */
export interface Stop {
  stop: Outcome;
}

export const isStop = (answer: object): answer is Stop => "stop" in answer;

/** The valid spec and the name of the Secret it governs. */
export interface Target {
  spec: PolicySpec;
  secretName: string;
}
