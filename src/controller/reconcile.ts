/**
 * The reconcile of one policy as a function of (observed state, clock, random bytes) ->
 * (writes, events, status, next wake-up). No I/O and no clock of its own: the controller fetches
 * the observed state, passes `now`, calls this, and persists the outcome.
 *
 * It is a chain of small pure steps (reconcile/), each taking the observed state and what the
 * steps before it decided:
 * 1. checkSpec: an invalid spec ends here (Ready=False InvalidSpec naming the fields);
 * 2. checkOwnership: a Secret of that name not made for this policy is never touched
 *    (SecretConflict; checked again after conflictRecheckMs);
 * 3. readRing: the ring in the Secret's ring.json; one that is missing, invalid or not issued
 *    after the ring the controller holds is replaced by that ring (RingRestored); without one, a
 *    deleted Secret or an invalid ring.json is reported (RingRegenerated) and a fresh ring made;
 * 4. readTokens: the ticketkeys.dev/rotate and /revoke tokens not yet handled (each is acted on once);
 * 5. scheduleRing: the key schedule (core/schedule.ts) and the event of what it changed;
 * 6. planWrite: the Secret intent, written only when the live Secret lacks some of it (a
 *    rendering edited by hand is restored from ring.json: SecretRestored);
 * 7. readyStatus: the status and its Ready condition (KeysCurrent or Suspended).
 * The outcome says when to run again: at the schedule's next key state change (after a conflict,
 * conflictRecheckMs later; after an invalid spec, only when the policy changes).
 */
import { failure, previousStatus, readyStatus } from "./reconcile/condition.ts";
import { checkOwnership, checkSpec } from "./reconcile/gates.ts";
import { readRing, readTokens } from "./reconcile/read.ts";
import { scheduleRing } from "./reconcile/schedule.ts";
import { planWrite } from "./reconcile/secret.ts";
import type { PolicyObject } from "../api/policy.ts";
import { isStop, type Context, type Observed, type Outcome } from "./reconcile/types.ts";

export { conflictRecheckMs } from "./reconcile/gates.ts";
export type { HeldRing, Observed, Outcome, PolicyEvent } from "./reconcile/types.ts";

/**
 * The outcome when the Secret an outcome asked for could not be written: Ready=False
 * SecretWriteFailed naming the Secret and the API's answer (a Warning event when it is new); the
 * rest of the status stays as last written, nothing is held.
 */
export function writeFailure(policy: PolicyObject, secretName: string, why: string, now: number): Outcome {
  return failure(
    { policy, now, prior: previousStatus(policy) },
    "SecretWriteFailed",
    `writing Secret ${secretName} failed: ${why}. The keys it holds stay in force; retrying.`,
    secretName,
  );
}

export function reconcile(observed: Observed): Outcome {
  const ctx: Context = { ...observed, prior: previousStatus(observed.policy) };
  const target = checkSpec(ctx);
  if (isStop(target)) return target.stop;
  const conflict = checkOwnership(ctx, target);
  if (conflict !== undefined) return conflict.stop;

  const found = readRing(ctx, target);
  const tokens = readTokens(ctx, found);
  const scheduled = scheduleRing(ctx, target, found, tokens);
  const write = planWrite(ctx, target, scheduled, tokens);
  // A restored ring is rewritten whole: RingRestored says so (not SecretRestored as well).
  const drift = found.restored ?? write.event;
  return {
    ...(write.secret === undefined ? {} : { secret: write.secret }),
    status: readyStatus(ctx, target, scheduled),
    events: [found.lost, scheduled.event, drift].filter((event) => event !== undefined),
    requeueAt: scheduled.next.nextWake,
    held: { secretName: target.secretName, ring: scheduled.next.ring, handled: tokens.handled },
  };
}
