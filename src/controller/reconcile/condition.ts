/** The Ready condition and the rest of the status, for a failure and for a ring that is current. */
import { policyStatusSchema, type PolicyObject, type PolicyStatus } from "../../api/policy.ts";
import { formatInstant } from "../../core/ring-schema.ts";
import { readyCondition, withCondition } from "../status.ts";
import type { Scheduled } from "./schedule.ts";
import type { Context, Outcome, Target } from "./types.ts";

/** The status as last written; anything unreadable there is ignored, not trusted. */
export function previousStatus(policy: PolicyObject): PolicyStatus {
  const parsed = policyStatusSchema.safeParse(policy.status ?? {});
  return parsed.success ? parsed.data : {};
}

/**
 * Ready=False with this reason: the rest of the status stays as last written, and a Warning
 * event is recorded when the message is new (not at each retry of the same failure).
 */
export function failure(
  { policy, prior, now }: Pick<Context, "policy" | "prior" | "now">,
  reason: string,
  message: string,
  secretName?: string,
): Outcome {
  const status = withCondition(
    { ...prior, observedGeneration: policy.metadata.generation, secretName: secretName ?? prior.secretName },
    readyCondition(policy, "False", reason, message, now),
  );
  const changed = prior.conditions?.find((c) => c.type === "Ready")?.message !== message;
  return { status, events: changed ? [{ type: "Warning", reason, message }] : [] };
}

/** Ready=True: KeysCurrent, or Suspended (then no next rotation time). */
export function readyStatus(
  { policy, prior, now }: Context,
  target: Target,
  scheduled: Scheduled,
): PolicyStatus {
  const { view } = scheduled;
  const suspended = target.spec.suspend;
  const active = view.activeKey ?? "?";
  return withCondition(
    {
      ...prior,
      observedGeneration: policy.metadata.generation,
      secretName: target.secretName,
      activeKey: view.activeKey,
      keys: view.keys,
      lastRotationTime: view.lastRotationTime,
      nextRotationTime: suspended ? undefined : view.nextRotationTime,
      ringIssuedAt:
        scheduled.next.ring.issuedAt === undefined
          ? prior.ringIssuedAt
          : formatInstant(scheduled.next.ring.issuedAt),
    },
    suspended
      ? readyCondition(
          policy,
          "True",
          "Suspended",
          `Rotation is suspended; active key ${active} keeps encrypting. Expired keys are still purged.`,
          now,
        )
      : readyCondition(
          policy,
          "True",
          "KeysCurrent",
          `Secret ${target.secretName} holds ${scheduled.next.ring.keys.length} keys; active key ${active}, next rotation at ${view.nextRotationTime ?? "?"}`,
          now,
        ),
  );
}
