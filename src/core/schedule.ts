import { activeKey, maxRingKeys, nextStateChange, type Key, type Ring } from "./ring.ts";
import {
  bringForward,
  freshRing,
  pad,
  purgeExpired,
  rotationStep,
  trimRetired,
  type Random,
  type ScheduleSpec,
} from "./schedule-steps.ts";

export type { Random, ScheduleSpec } from "./schedule-steps.ts";

export type RingChange = "none" | "generated" | "rotated" | "revoked" | "purged";

export interface ScheduleInput {
  /** The ring in the Secret, if any. */
  previous: Ring | undefined;
  spec: ScheduleSpec;
  /** Epoch milliseconds. */
  now: number;
  random: Random;
  /** A new `ticketkeys.dev/rotate` token: rotate at the earliest safe instant (see bringForward). */
  rotate?: boolean;
  /** A new `ticketkeys.dev/revoke` token: discard every key now. */
  revoke?: boolean;
  /**
   * The issuedAt of the last ring written, when the previous ring does not carry it (a deleted
   * Secret, a broken or replayed ring.json): the new ring is issued after it.
   */
  issuedAfter?: number | undefined;
}

export interface ScheduleResult {
  ring: Ring;
  change: RingChange;
  /** The next instant the ring or a key state changes; always > now. */
  nextWake: number;
}

function checkInput(spec: ScheduleSpec, now: number): void {
  if (!Number.isSafeInteger(now) || now < 0) throw new RangeError("now must be epoch milliseconds");
  if (!Number.isSafeInteger(spec.rotationIntervalMs) || spec.rotationIntervalMs < 1) {
    throw new RangeError("rotationIntervalMs must be a positive whole number");
  }
  if (!Number.isInteger(spec.retiredKeys) || spec.retiredKeys < 0 || spec.retiredKeys + 2 > maxRingKeys) {
    throw new RangeError(`retiredKeys must be a whole number from 0 to ${maxRingKeys - 2}`);
  }
}

/**
 * How close before the next rotation an expiry is left to that rotation's reconcile. Each late
 * rotation (by the reconcile's latency, milliseconds) delays the following ones, so the oldest
 * retired key expires just before the rotation that replaces it; waking for both would write the
 * Secret twice within milliseconds. docs/design.md#invariants lets a key leave "no later than one reconcile
 * after expiresAt", and consumers drop it by the clock at expiresAt anyway.
 */
export const expiryCoalesceMs = 1000;

function wakeAfter(ring: Ring, spec: ScheduleSpec, now: number): number {
  const next = nextStateChange(ring, now) ?? now + spec.rotationIntervalMs;
  const rotation = ring.keys.find((key) => key.activeFrom > now)?.activeFrom;
  return rotation !== undefined && !spec.suspend && rotation > next && rotation - next <= expiryCoalesceMs
    ? rotation
    : next;
}

/**
 * How far ahead of the controller's clock the first key of the previous ring may start and still
 * be taken for a clock behind the ring's writer (a wait), not for a ring that cannot be used (a
 * new one). The consumers' default tolerance (RingState) is the same.
 */
export const maxClockBehindMs = 5 * 60_000;

/**
 * The new ring: `issuedAt` is `now`, or 1 ms after the previous ring's when the clock is behind it
 * (monotonic whatever the leader's clock). An unchanged ring keeps the previous one's.
 */
function result(
  keys: readonly Key[],
  change: RingChange,
  spec: ScheduleSpec,
  now: number,
  previous: Ring | undefined,
  floor: number,
): ScheduleResult {
  const issuedAt = change === "none" ? previous?.issuedAt : Math.max(now, floor + 1);
  const ring = issuedAt === undefined ? { keys } : { keys, issuedAt };
  return { ring, change, nextWake: wakeAfter(ring, spec, now) };
}

/**
 * The key schedule (docs/design.md#key-schedule): the next ring as a pure function
 * of the previous ring, the spec, the clock and the random bytes. In order:
 * 1. no previous ring, or a revoke: a new ring (even when suspended); no key started yet by this
 *    clock: wait for the first (a clock behind the ring), unless it starts more than
 *    maxClockBehindMs ahead (then a new ring);
 * 2. purge keys with expiresAt <= now (never the active or a pending key);
 * 3. unless suspended: a manual rotation brings the pending key forward, and once the last key has
 *    started the rotation step adds a new pending key; after either, the retired keys are trimmed
 *    to the R newest and never-used keys pad the ring up to R + 2 keys;
 * 4. otherwise, when keys were purged, pads back to the previous count (at most R + 2), so a spec
 *    change of R only takes effect at the next rotation.
 */
export function nextRing(input: ScheduleInput): ScheduleResult {
  const { previous, spec, now, random } = input;
  checkInput(spec, now);
  // a changed ring is issued after the previous one and after the last one written
  const floor = Math.max(
    previous?.issuedAt ?? Number.NEGATIVE_INFINITY,
    input.issuedAfter ?? Number.NEGATIVE_INFINITY,
  );
  const done = (keys: readonly Key[], change: RingChange): ScheduleResult =>
    result(keys, change, spec, now, previous, floor);
  if (input.revoke === true) return done(freshRing(spec, now, random), "revoked");
  if (previous === undefined) return done(freshRing(spec, now, random), "generated");
  const before = [...previous.keys].sort((a, b) => a.activeFrom - b.activeFrom);
  if (activeKey(previous, now) === undefined) {
    // No key has started by this clock: a clock behind the ring's writer waits for it (a new
    // ring would encrypt at once, without the pending stage); a ring that starts further ahead
    // than any clock skew cannot be used and is replaced.
    const first = before[0]?.activeFrom ?? Number.POSITIVE_INFINITY;
    if (first - now <= maxClockBehindMs) return done(before, "none");
    return done(freshRing(spec, now, random), "generated");
  }
  let keys = purgeExpired(before, now);
  const purged = keys.length !== before.length;
  let rotated = false;
  if (!spec.suspend) {
    const moved = input.rotate === true ? bringForward(keys, spec, now) : undefined;
    if (moved !== undefined) {
      keys = purgeExpired(moved, now);
      rotated = true;
    }
    const last = keys.at(-1);
    if (last !== undefined && last.activeFrom <= now) {
      keys = purgeExpired(rotationStep(keys, spec, now, random), now);
      rotated = true;
    }
  }
  const count = spec.retiredKeys + 2;
  if (rotated) {
    keys = pad(trimRetired(keys, spec.retiredKeys, now), count, spec, now, random);
    return done(keys, "rotated");
  }
  if (purged) {
    keys = pad(keys, Math.min(count, before.length), spec, now, random);
    return done(keys, "purged");
  }
  return done(before, "none");
}
