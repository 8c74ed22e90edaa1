/**
 * Fixtures of the reconcile table (reconcile.test.ts): a policy, the Secret the operator writes
 * for it (built here from the core, independently of the controller's code), and a summary of an
 * outcome whose Secret data is reduced to digests, so that a failing assertion never prints key
 * material.
 */
import { createHash } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";

import {
  apiVersion,
  kind,
  managedByLabel,
  managedByValue,
  policyLabel,
  secretType,
  templateKeysAnnotation,
} from "../../../src/api/names.ts";
import type { PolicyObject, PolicySpecInput, PolicyStatus } from "../../../src/api/policy.ts";
import {
  activeKey,
  formats,
  keyId,
  nextRing,
  renderSecretData,
  type Ring,
  type ScheduleInput,
  type ScheduleResult,
  type ScheduleSpec,
} from "../../../src/core/index.ts";
import type { Outcome } from "../../../src/controller/reconcile.ts";
import { templateKeys } from "../../../src/controller/reconcile/secret.ts";
import { hour, seededRandom } from "../core/helpers.ts";

export const t0 = Date.UTC(2026, 10, 22, 10);
export const iso = (ms: number): string => new Date(ms).toISOString();
export const namespace = "shop";
export const uid = "3f1c8e52-policy-web";
/** The schedule of the default spec (rotationInterval 1h, retiredKeys 1). */
export const schedule: ScheduleSpec = { rotationIntervalMs: hour, retiredKeys: 1, suspend: false };
/** The seed of the random bytes every reconcile of the table draws. */
export const reconcileSeed = "reconcile";

export function policy(
  spec: PolicySpecInput = {},
  extra: { annotations?: Record<string, string>; status?: PolicyStatus } = {},
): PolicyObject {
  return {
    apiVersion,
    kind,
    metadata: {
      name: "web",
      namespace,
      uid,
      generation: 4,
      resourceVersion: "120",
      ...(extra.annotations === undefined ? {} : { annotations: extra.annotations }),
    },
    spec,
    ...(extra.status === undefined ? {} : { status: extra.status }),
  };
}

/** What the schedule makes of this input with the reconcile's random bytes. */
export function scheduled(
  input: Omit<ScheduleInput, "random" | "spec"> & { spec?: ScheduleSpec },
): ScheduleResult {
  return nextRing({ spec: schedule, ...input, random: seededRandom(reconcileSeed) });
}

/** A ring the operator wrote earlier, with random bytes of its own. */
export function writtenRing(now: number, spec: ScheduleSpec = schedule): Ring {
  return nextRing({ previous: undefined, spec, now, random: seededRandom(`written-${now}`) }).ring;
}

/** The Secret intent the operator applies for policy "web": the ring rendered at `now`. */
export function intent(
  ring: Ring,
  now: number,
  options: {
    name?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    formats?: readonly (typeof formats)[number][];
    cipher?: "AES128" | "AES256";
  } = {},
): V1Secret {
  const data = renderSecretData(
    ring,
    { formats: options.formats ?? formats, cipher: options.cipher ?? "AES256" },
    now,
  );
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: secretType,
    metadata: {
      name: options.name ?? "web",
      namespace,
      labels: { ...options.labels, [managedByLabel]: managedByValue, [policyLabel]: "web" },
      annotations: {
        ...options.annotations,
        // the template's keys: the labels given, and the annotations that are not the operator's
        [templateKeysAnnotation]: templateKeys({
          labels: options.labels,
          annotations: Object.fromEntries(
            Object.entries(options.annotations ?? {}).filter(([k]) => !k.startsWith("ticketkeys.dev/")),
          ),
        }),
      },
      ownerReferences: [{ apiVersion, kind, name: "web", uid, controller: true, blockOwnerDeletion: true }],
    },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.toString("base64")])),
  };
}

/** A Secret as the API returns it after the operator applied `secret`. */
export function live(secret: V1Secret): V1Secret {
  return {
    ...secret,
    metadata: {
      ...secret.metadata,
      uid: "9b0d-secret",
      resourceVersion: "118",
      creationTimestamp: new Date(t0 - hour),
      managedFields: [{ manager: "ticket-key-operator", operation: "Apply" }],
    },
  };
}

export const activeId = (ring: Ring, now: number): string => keyId(activeKey(ring, now)!);

/** The id of the next key to start, and the instant it starts. */
export function pending(ring: Ring, now: number): { id: string; at: string } {
  const key = ring.keys.find((k) => k.activeFrom > now)!;
  return { id: keyId(key), at: iso(key.activeFrom) };
}

const digest = (base64: string): string =>
  `sha256:${createHash("sha256").update(base64).digest("hex").slice(0, 16)}`;

/** A Secret with each data value replaced by a digest of it. */
export function digested(secret: V1Secret | undefined): V1Secret | undefined {
  if (secret === undefined) return undefined;
  return {
    ...secret,
    data: Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, digest(v)])),
  };
}

export interface Decision {
  /** The Secret intent to apply (data digested), undefined: nothing is written. */
  write: V1Secret | undefined;
  /** The Ready condition: [status, reason, message], and since when it has had that status. */
  ready: [string, string, string];
  since: string | undefined;
  secretName: string | undefined;
  activeKey: string | undefined;
  nextRotationTime: string | undefined;
  /** "Type Reason: message" of each event, in order. */
  events: string[];
  requeueAt: number | undefined;
}

export function decision(outcome: Outcome): Decision {
  const ready = outcome.status.conditions?.find((c) => c.type === "Ready");
  return {
    write: digested(outcome.secret),
    ready: [ready?.status ?? "", ready?.reason ?? "", ready?.message ?? ""],
    since: ready?.lastTransitionTime,
    secretName: outcome.status.secretName,
    activeKey: outcome.status.activeKey,
    nextRotationTime: outcome.status.nextRotationTime,
    events: outcome.events.map((e) => `${e.type} ${e.reason}: ${e.message}`),
    requeueAt: outcome.requeueAt,
  };
}
