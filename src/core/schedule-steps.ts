import type { Key } from "./ring.ts";

/** The schedule part of a policy spec. */
export interface ScheduleSpec {
  rotationIntervalMs: number;
  retiredKeys: number;
  suspend: boolean;
}

/** A source of random bytes (crypto.randomBytes in production, a fixed stream in tests). */
export type Random = (bytes: number) => Buffer;

type Instants = Pick<Key, "createdAt" | "activeFrom" | "activeUntil" | "expiresAt">;

/** How long a key stays decryptable after it stops encrypting. */
function retention(spec: ScheduleSpec): number {
  return spec.retiredKeys * spec.rotationIntervalMs;
}

/** Index of the active key in a sorted key list (greatest activeFrom <= now), -1 if none started. */
export function activeIndex(keys: readonly Key[], now: number): number {
  return keys.findLastIndex((key) => key.activeFrom <= now);
}

function draw(random: Random, bytes: number): Buffer {
  const drawn = random(bytes);
  if (!Buffer.isBuffer(drawn) || drawn.length !== bytes) {
    throw new Error(`the random source must return ${bytes} bytes`);
  }
  return Buffer.from(drawn);
}

/** A new key: a name (16 bytes, redrawn if already in the ring) then a seed (32 bytes) from `random`. */
export function newKey(random: Random, ring: readonly Key[], instants: Instants): Key {
  for (let attempt = 0; attempt < 8; attempt++) {
    const name = draw(random, 16);
    if (!ring.some((key) => key.name.equals(name))) return { name, seed: draw(random, 32), ...instants };
  }
  throw new Error("the random source keeps returning key names that are already in the ring");
}

/** Removes every key with expiresAt <= now, except the active key and pending keys. */
export function purgeExpired(keys: readonly Key[], now: number): Key[] {
  const active = activeIndex(keys, now);
  return keys.filter((key, i) => i === active || now < key.activeFrom || now < key.expiresAt);
}

/**
 * Applies the current spec to expiry: keys from index `from` on (the key that just stopped
 * encrypting and the newer ones) get expiresAt = activeUntil + retiredKeys x interval; older keys
 * only ever get earlier (a shorter spec takes effect, a longer one never extends a retired key).
 * Expiry thus never decreases along the ring, so purging only ever removes its oldest keys.
 */
export function applyExpiry(keys: readonly Key[], from: number, spec: ScheduleSpec): Key[] {
  return keys.map((key, i) => {
    const expiresAt = key.activeUntil + retention(spec);
    return { ...key, expiresAt: i >= from ? expiresAt : Math.min(key.expiresAt, expiresAt) };
  });
}

/**
 * The rotation step, once the last (pending) key has started: a new pending key N with
 * activeFrom = max(last.activeUntil, now + I), so it is published at least one full interval
 * before it becomes active; the last key's activeUntil becomes N's activeFrom (extended when the
 * controller ran late).
 */
export function rotationStep(keys: readonly Key[], spec: ScheduleSpec, now: number, random: Random): Key[] {
  const interval = spec.rotationIntervalMs;
  const lastIndex = keys.length - 1;
  const last = keys[lastIndex];
  if (last === undefined) throw new Error("cannot rotate an empty ring");
  const activeFrom = Math.max(last.activeUntil, now + interval);
  const next = newKey(random, keys, {
    createdAt: now,
    activeFrom,
    activeUntil: activeFrom + interval,
    expiresAt: activeFrom + interval,
  });
  const rotated = [...keys.slice(0, lastIndex), { ...last, activeUntil: activeFrom }, next];
  return applyExpiry(rotated, Math.max(0, lastIndex - 1), spec);
}

/**
 * A manual rotation: the pending key P takes over at T = max(now, P.createdAt + I), never later
 * than its scheduled activeFrom, so it still has been published for one full interval before it
 * encrypts. In steady state P was created exactly one interval before its scheduled activeFrom,
 * so T is the scheduled instant and nothing changes: a manual rotation only comes earlier when P
 * has been published for longer than the current interval (e.g. after the interval was
 * shortened). Undefined when nothing changes.
 */
export function bringForward(keys: readonly Key[], spec: ScheduleSpec, now: number): Key[] | undefined {
  const index = activeIndex(keys, now);
  const active = keys[index];
  const pending = keys[index + 1];
  if (active === undefined || pending === undefined || index + 2 !== keys.length) return undefined;
  const takeover = Math.max(now, pending.createdAt + spec.rotationIntervalMs);
  if (takeover >= pending.activeFrom || takeover <= active.activeFrom) return undefined;
  const moved = [
    ...keys.slice(0, index),
    { ...active, activeUntil: takeover },
    { ...pending, activeFrom: takeover, activeUntil: takeover + spec.rotationIntervalMs },
  ];
  return applyExpiry(moved, index, spec);
}

/** Keeps only the `retiredKeys` newest keys before the active one. */
export function trimRetired(keys: readonly Key[], retiredKeys: number, now: number): Key[] {
  const active = activeIndex(keys, now);
  return active > retiredKeys ? keys.slice(active - retiredKeys) : [...keys];
}

/**
 * Prepends never-used keys until the ring holds `count` keys. Each is placed just before the
 * oldest key (activeUntil = oldest.activeFrom, activeFrom = activeUntil - I, createdAt = now, so
 * createdAt > activeFrom marks it as never used) with
 *   expiresAt = min(max(activeUntil + R x I, now + I), oldest.expiresAt if that is after now):
 * a pad lives at least one interval (no churn), unless the key after it goes first: it never
 * outlives a newer key, so expiry never decreases along the ring and purging only ever removes
 * the oldest keys. In a new ring this is exactly activeUntil + R x I.
 */
export function pad(
  keys: readonly Key[],
  count: number,
  spec: ScheduleSpec,
  now: number,
  random: Random,
): Key[] {
  const interval = spec.rotationIntervalMs;
  const padded = [...keys];
  for (let oldest = padded[0]; oldest !== undefined && padded.length < count; oldest = padded[0]) {
    const activeUntil = oldest.activeFrom;
    const activeFrom = activeUntil - interval;
    if (activeFrom < 0) break;
    const lifetime = Math.max(activeUntil + retention(spec), now + interval);
    const expiresAt = oldest.expiresAt > now ? Math.min(lifetime, oldest.expiresAt) : lifetime;
    padded.unshift(newKey(random, padded, { createdAt: now, activeFrom, activeUntil, expiresAt }));
  }
  return padded;
}

/**
 * A new ring: the active key A from now, the pending key P one interval later, and R never-used
 * keys before A as if the ring had been running, so the count is R + 2 from the start. Random
 * bytes are drawn for A, then P, then the pads from the newest to the oldest.
 */
export function freshRing(spec: ScheduleSpec, now: number, random: Random): Key[] {
  const interval = spec.rotationIntervalMs;
  const active = newKey(random, [], {
    createdAt: now,
    activeFrom: now,
    activeUntil: now + interval,
    expiresAt: now + interval + retention(spec),
  });
  const pending = newKey(random, [active], {
    createdAt: now,
    activeFrom: now + interval,
    activeUntil: now + 2 * interval,
    expiresAt: now + 2 * interval + retention(spec),
  });
  return pad([active, pending], spec.retiredKeys + 2, spec, now, random);
}
