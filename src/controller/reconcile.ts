/**
 * The reconcile of one policy as a function of (observed state, clock, random bytes) ->
 * (writes, events, status, next wake-up). No I/O: the controller fetches the observed state,
 * calls this, and persists the outcome.
 */
import type { V1Secret } from "@kubernetes/client-node";
import {
  managedByLabel,
  managedByValue,
  policyLabel,
  revokeAnnotation,
  revokeHandledAnnotation,
  ringDataKey,
  rotateAnnotation,
  rotateHandledAnnotation,
  secretType,
} from "../api/names.ts";
import {
  parseSpec,
  policyStatusSchema,
  type PolicyObject,
  type PolicySpec,
  type PolicyStatus,
} from "../api/policy.ts";
import { nextRing, type Random } from "../core/schedule.ts";
import { parseRing, RingFormatError, type Ring } from "../core/ring.ts";
import { renderSecretData } from "../core/renderings.ts";
import { ownerReference, ownedBy } from "./ownership.ts";
import { readyCondition, ringStatus, withCondition } from "./status.ts";

/** How often a policy blocked by someone else's Secret checks whether that Secret is gone. */
export const conflictRecheckMs = 30_000;

export interface PolicyEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

export interface Observed {
  policy: PolicyObject;
  /** The Secret named by the policy, as last seen (undefined: it does not exist). */
  secret: V1Secret | undefined;
  now: number;
  random: Random;
}

export interface Outcome {
  /** The full intent of the Secret to apply, or undefined when nothing must be written. */
  secret?: V1Secret;
  /** The Secret must be created (it does not exist yet). */
  create?: boolean;
  status: PolicyStatus;
  events: PolicyEvent[];
  /** When to run again (epoch ms); undefined: only when something changes. */
  requeueAt?: number;
}

/** The status as last written; anything unreadable there is ignored, not trusted. */
function previousStatus(policy: PolicyObject): PolicyStatus {
  const parsed = policyStatusSchema.safeParse(policy.status ?? {});
  return parsed.success ? parsed.data : {};
}

function failed(
  policy: PolicyObject,
  now: number,
  reason: string,
  message: string,
  secretName?: string,
): Outcome {
  const prior = previousStatus(policy);
  const status = withCondition(
    { ...prior, observedGeneration: policy.metadata.generation, secretName: secretName ?? prior.secretName },
    readyCondition(policy, "False", reason, message, now),
  );
  const changed = prior.conditions?.find((c) => c.type === "Ready")?.message !== message;
  return { status, events: changed ? [{ type: "Warning", reason, message }] : [] };
}

function decodeRing(secret: V1Secret): Ring {
  const raw = secret.data?.[ringDataKey];
  if (raw === undefined) throw new RingFormatError(`the Secret has no ${ringDataKey}`);
  return parseRing(Buffer.from(raw, "base64"));
}

function desiredSecret(
  policy: PolicyObject,
  spec: PolicySpec,
  name: string,
  ring: Ring,
  tokens: Record<string, string>,
  now: number,
): V1Secret {
  const data = renderSecretData(ring, { formats: spec.formats, cipher: spec.cipher }, now);
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: secretType,
    metadata: {
      name,
      namespace: policy.metadata.namespace,
      labels: {
        ...spec.secretTemplate?.labels,
        [managedByLabel]: managedByValue,
        [policyLabel]: policy.metadata.name,
      },
      annotations: { ...spec.secretTemplate?.annotations, ...tokens },
      ownerReferences: [ownerReference(policy)],
    },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.toString("base64")])),
  };
}

function sameStrings(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ea = Object.entries(a ?? {});
  return ea.length === Object.keys(b ?? {}).length && ea.every(([k, v]) => b?.[k] === v);
}

/** True when the live Secret already carries everything the desired one says. */
function upToDate(live: V1Secret, desired: V1Secret): boolean {
  const lm = live.metadata ?? {};
  const dm = desired.metadata ?? {};
  const includes = (
    have: Record<string, string> | undefined,
    want: Record<string, string> | undefined,
  ): boolean => Object.entries(want ?? {}).every(([k, v]) => have?.[k] === v);
  return (
    sameStrings(live.data, desired.data) &&
    includes(lm.labels, dm.labels) &&
    includes(lm.annotations, dm.annotations) &&
    live.type === desired.type
  );
}

export function reconcile({ policy, secret, now, random }: Observed): Outcome {
  const parsed = parseSpec(policy.spec);
  if (!parsed.ok) return failed(policy, now, "InvalidSpec", parsed.message);
  const spec = parsed.spec;
  const name = spec.secretName ?? policy.metadata.name;

  if (secret !== undefined && !ownedBy(secret, policy)) {
    // A Secret without our label is not watched: look again later to notice it was removed.
    return {
      ...failed(
        policy,
        now,
        "SecretConflict",
        `Secret ${name} exists and is not managed by this policy: it is left untouched. Delete it or set spec.secretName to another name.`,
        name,
      ),
      requeueAt: now + conflictRecheckMs,
    };
  }

  const events: PolicyEvent[] = [];
  const prior = previousStatus(policy);
  let previous: Ring | undefined;
  if (secret !== undefined) {
    try {
      previous = decodeRing(secret);
    } catch (err) {
      const why = err instanceof RingFormatError ? err.message : "unreadable";
      events.push({
        type: "Warning",
        reason: "RingRegenerated",
        message: `${ringDataKey} in Secret ${name} is invalid (${why}): generated a fresh key ring. The previous keys are gone; sessions they protected need a full handshake.`,
      });
    }
  } else if ((prior.keys?.length ?? 0) > 0) {
    events.push({
      type: "Warning",
      reason: "RingRegenerated",
      message: `Secret ${name} was deleted: generated a fresh key ring. The previous keys are gone; sessions they protected need a full handshake.`,
    });
  }

  const annotations = policy.metadata.annotations ?? {};
  const handled = secret?.metadata?.annotations ?? {};
  const rotateToken = annotations[rotateAnnotation];
  const revokeToken = annotations[revokeAnnotation];
  // Tokens present when the ring is first made are recorded, not acted on: the ring is new anyway.
  const rotate =
    previous !== undefined && rotateToken !== undefined && rotateToken !== handled[rotateHandledAnnotation];
  const revoke =
    previous !== undefined && revokeToken !== undefined && revokeToken !== handled[revokeHandledAnnotation];
  const tokens: Record<string, string> = {};
  if (rotateToken !== undefined) tokens[rotateHandledAnnotation] = rotateToken;
  if (revokeToken !== undefined) tokens[revokeHandledAnnotation] = revokeToken;

  const next = nextRing({
    previous,
    spec: {
      rotationIntervalMs: spec.rotationIntervalMs,
      retiredKeys: spec.retiredKeys,
      suspend: spec.suspend,
    },
    now,
    random,
    rotate,
    revoke,
  });
  const desired = desiredSecret(policy, spec, name, next.ring, tokens, now);
  const view = ringStatus(next.ring, now);

  switch (next.change) {
    case "generated":
      if (events.length === 0) {
        events.push({
          type: "Normal",
          reason: "Generated",
          message: `Generated a key ring in Secret ${name}: active key ${view.activeKey ?? "?"}`,
        });
      }
      break;
    case "rotated":
      events.push({
        type: "Normal",
        reason: "Rotated",
        message: `Published pending key ${view.pendingKey ?? "?"}; active key ${view.activeKey ?? "?"}${rotate ? " (rotation requested by annotation)" : ""}`,
      });
      break;
    case "revoked":
      events.push({
        type: "Normal",
        reason: "Revoked",
        message: `Revoked every key as requested by ${revokeAnnotation}: new active key ${view.activeKey ?? "?"}. Existing sessions need a full handshake.`,
      });
      break;
    default:
      break;
  }

  let write: V1Secret | undefined;
  if (secret === undefined) {
    write = desired;
  } else if (!upToDate(secret, desired)) {
    write = desired;
    if (next.change === "none" && previous !== undefined && !sameStrings(secret.data, desired.data)) {
      events.push({
        type: "Warning",
        reason: "SecretRestored",
        message: `Secret ${name} was modified outside the operator: restored its renderings from ${ringDataKey}.`,
      });
    }
  }

  const suspended = spec.suspend;
  const status = withCondition(
    {
      ...prior,
      observedGeneration: policy.metadata.generation,
      secretName: name,
      activeKey: view.activeKey,
      keys: view.keys,
      lastRotationTime: view.lastRotationTime,
      nextRotationTime: suspended ? undefined : view.nextRotationTime,
    },
    suspended
      ? readyCondition(
          policy,
          "True",
          "Suspended",
          `Rotation is suspended; active key ${view.activeKey ?? "?"} keeps encrypting. Expired keys are still purged.`,
          now,
        )
      : readyCondition(
          policy,
          "True",
          "KeysCurrent",
          `Secret ${name} holds ${next.ring.keys.length} keys; active key ${view.activeKey ?? "?"}, next rotation at ${view.nextRotationTime ?? "?"}`,
          now,
        ),
  );
  return {
    ...(write ? { secret: write, create: secret === undefined } : {}),
    status,
    events,
    requeueAt: next.nextWake,
  };
}
