import { activeKey, liveKeys, type Key, type Ring } from "./ring.ts";

/** The live keys of a ring at `now`, split by state. */
export interface ServingKeys {
  /** The key that encrypts (the earliest key if none has started yet, e.g. a consumer clock behind). */
  active: Key;
  /** Keys not started yet, soonest first (the schedule keeps exactly one). */
  pending: Key[];
  /** Decrypt-only keys that are not gone, newest first. */
  retired: Key[];
}

export function servingKeys(ring: Ring, now: number): ServingKeys | undefined {
  const live = liveKeys(ring, now);
  const active = activeKey(ring, now) ?? live[0];
  if (active === undefined) return undefined;
  return {
    active,
    pending: live.filter((key) => key.activeFrom > active.activeFrom),
    retired: live.filter((key) => key.activeFrom < active.activeFrom).reverse(),
  };
}

/** [active, pending, ...retired newest first]: the order of servers that encrypt with the first key. */
export function orderedForServing(ring: Ring, now: number): Key[] {
  const keys = servingKeys(ring, now);
  return keys ? [keys.active, ...keys.pending, ...keys.retired] : [];
}

/**
 * Oldest first: [...retired, active, pending]. HAProxy uses its last three lines and encrypts with
 * the penultimate one. With no pending key (a suspended policy after its last key started) the
 * oldest retired key goes last, so that the active key stays penultimate.
 */
export function orderedForHaproxy(ring: Ring, now: number): Key[] {
  const keys = servingKeys(ring, now);
  if (!keys) return [];
  const oldestFirst = [...keys.retired].reverse();
  const oldest = oldestFirst[0];
  if (keys.pending.length === 0 && oldest !== undefined)
    return [...oldestFirst.slice(1), keys.active, oldest];
  return [...oldestFirst, keys.active, ...keys.pending];
}
