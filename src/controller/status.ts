/** Status of a policy: metav1.Condition semantics and the key ids and instants of the ring. */
import { isDeepStrictEqual } from "node:util";
import type { Condition, KeyStatus, PolicyObject, PolicyStatus } from "../api/policy.ts";
import { activeKey, keyId, keyState, type Ring } from "../core/ring.ts";

const iso = (ms: number): string => new Date(ms).toISOString();

export function readyCondition(
  policy: PolicyObject,
  status: Condition["status"],
  reason: string,
  message: string,
  now: number,
): Condition {
  return {
    type: "Ready",
    status,
    reason,
    message,
    lastTransitionTime: iso(now),
    observedGeneration: policy.metadata.generation,
  };
}

/** Sets a condition, keeping lastTransitionTime unless the condition's status changed. */
export function withCondition(status: PolicyStatus, condition: Condition): PolicyStatus {
  const existing = status.conditions ?? [];
  const prior = existing.find((c) => c.type === condition.type);
  const next =
    prior !== undefined && prior.status === condition.status
      ? { ...condition, lastTransitionTime: prior.lastTransitionTime }
      : condition;
  return { ...status, conditions: [...existing.filter((c) => c.type !== condition.type), next] };
}

const stateNames = { pending: "Pending", active: "Active", retired: "Retired" } as const;

export interface RingView {
  activeKey?: string;
  pendingKey?: string;
  keys: KeyStatus[];
  lastRotationTime?: string;
  nextRotationTime?: string;
}

/** What status may say about a ring: ids and instants, never key bytes. */
export function ringStatus(ring: Ring, now: number): RingView {
  const active = activeKey(ring, now);
  const keys: KeyStatus[] = [];
  let pending: KeyStatus | undefined;
  for (const key of ring.keys) {
    const state = keyState(ring, key, now);
    if (state === "gone") continue;
    const entry: KeyStatus = {
      id: keyId(key),
      state: stateNames[state],
      activeFrom: iso(key.activeFrom),
      activeUntil: iso(key.activeUntil),
      expiresAt: iso(key.expiresAt),
    };
    if (state === "pending") pending ??= entry;
    keys.push(entry);
  }
  return {
    activeKey: active ? keyId(active) : undefined,
    pendingKey: pending?.id,
    keys,
    lastRotationTime: active ? iso(active.activeFrom) : undefined,
    nextRotationTime: pending?.activeFrom,
  };
}

/**
 * Whether the status as read from the API already says what `next` says: the same JSON content,
 * whatever the order of the keys (the API returns them in its own order) and with undefined
 * fields left out. A status that says the same is not written again.
 */
export function sameStatus(current: unknown, next: PolicyStatus): boolean {
  const content = (value: unknown): unknown => JSON.parse(JSON.stringify(value ?? {})) as unknown;
  return isDeepStrictEqual(content(current), content(next));
}
