import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keyState, nextRing, serializeRing, type Ring, type ScheduleSpec } from "../../../src/core/index.ts";
import { assertWellFormed, hex, hour, makeKey, minute, recording, seededRandom } from "./helpers.ts";

const t0 = Date.UTC(2026, 10, 22, 10);
const spec: ScheduleSpec = { rotationIntervalMs: hour, retiredKeys: 2, suspend: false };
const span = (ring: Ring) => ring.keys.map((k) => [k.activeFrom - t0, k.activeUntil - t0, k.expiresAt - t0]);
const states = (ring: Ring, now: number) => ring.keys.map((key) => keyState(ring, key, now));

function fresh(s: ScheduleSpec = spec, now = t0) {
  return nextRing({ previous: undefined, spec: s, now, random: seededRandom("schedule") });
}

describe("a new ring", () => {
  it("has the active key, the pending key and R never-used keys placed before them", () => {
    const { ring, change, nextWake } = fresh();
    assert.equal(change, "generated");
    assert.deepEqual(span(ring), [
      [-2 * hour, -hour, hour],
      [-hour, 0, 2 * hour],
      [0, hour, 3 * hour],
      [hour, 2 * hour, 4 * hour],
    ]);
    assert.ok(ring.keys.every((key) => key.createdAt === t0));
    assert.deepEqual(states(ring, t0), ["retired", "retired", "active", "pending"]);
    assert.equal(nextWake, t0 + hour);
    assertWellFormed(ring);
  });

  it("draws the name then the seed of A, P, then the pads newest first", () => {
    const source = recording(seededRandom("draws"));
    const { ring } = nextRing({ previous: undefined, spec, now: t0, random: source.random });
    assert.deepEqual(
      source.drawn.map((bytes) => bytes.length),
      [16, 32, 16, 32, 16, 32, 16, 32],
    );
    const [pad2, pad1, active, pending] = ring.keys;
    assert.deepEqual(
      [active, pending, pad1, pad2].map((key) => key?.name),
      source.drawn.filter((_, i) => i % 2 === 0),
    );
    assert.deepEqual(active?.seed, source.drawn[1]);
  });

  it("is generated when the previous ring has no started key, and on revoke even when suspended", () => {
    const future = { keys: [makeKey(0, t0 + hour, t0 + 2 * hour, t0 + 3 * hour)] };
    const random = seededRandom("x");
    assert.equal(nextRing({ previous: future, spec, now: t0, random }).change, "generated");
    const old = fresh().ring;
    const revoked = nextRing({
      previous: old,
      spec: { ...spec, suspend: true },
      now: t0 + 5 * minute,
      random,
      revoke: true,
    });
    assert.equal(revoked.change, "revoked");
    assert.equal(revoked.ring.keys.filter((key) => old.keys.some((o) => o.name.equals(key.name))).length, 0);
    assert.deepEqual(states(revoked.ring, t0 + 5 * minute), ["retired", "retired", "active", "pending"]);
  });
});

describe("rotation", () => {
  it("does nothing before the pending key starts", () => {
    const first = fresh();
    const again = nextRing({ previous: first.ring, spec, now: t0 + 59 * minute, random: seededRandom("y") });
    assert.equal(again.change, "none");
    assert.deepEqual(again.ring, first.ring);
    assert.equal(again.nextWake, t0 + hour);
  });

  it("on time: publishes the next key one interval ahead and drops the oldest", () => {
    const first = fresh();
    const second = nextRing({ previous: first.ring, spec, now: t0 + hour, random: seededRandom("y") });
    assert.equal(second.change, "rotated");
    assert.deepEqual(span(second.ring), [
      [-hour, 0, 2 * hour],
      [0, hour, 3 * hour],
      [hour, 2 * hour, 4 * hour],
      [2 * hour, 3 * hour, 5 * hour],
    ]);
    assert.equal(second.ring.keys[3]?.createdAt, t0 + hour);
    assert.equal(second.nextWake, t0 + 2 * hour);
    assertWellFormed(second.ring);
  });

  it("late: extends the active key so the new one is still published one interval ahead", () => {
    const first = fresh();
    const late = t0 + hour + 20 * minute;
    const second = nextRing({ previous: first.ring, spec, now: late, random: seededRandom("y") });
    assert.deepEqual(span(second.ring), [
      [-hour, 0, 2 * hour],
      [0, hour, 3 * hour],
      [hour, late - t0 + hour, late - t0 + 3 * hour],
      [late - t0 + hour, late - t0 + 2 * hour, late - t0 + 4 * hour],
    ]);
  });

  it("after downtime: purges expired keys and pads back to R + 2 never-used keys", () => {
    const first = fresh();
    const back = t0 + 10 * hour;
    const second = nextRing({ previous: first.ring, spec, now: back, random: seededRandom("y") });
    assert.equal(second.change, "rotated");
    const [pad2, pad1, active, pending] = second.ring.keys;
    assert.equal(hex(active!), hex(first.ring.keys[3]!)); // the last started key kept encrypting
    assert.deepEqual([active!.activeFrom, active!.activeUntil], [t0 + hour, back + hour]);
    assert.deepEqual([pending!.activeFrom, pending!.activeUntil], [back + hour, back + 2 * hour]);
    // pads: expiresAt = max(activeUntil + R x I, now + I), capped by the next retired key
    assert.deepEqual([pad1!.activeFrom, pad1!.activeUntil, pad1!.expiresAt], [t0, t0 + hour, back + hour]);
    assert.deepEqual([pad2!.activeFrom, pad2!.activeUntil, pad2!.expiresAt], [t0 - hour, t0, back + hour]);
    assert.ok(pad1!.createdAt > pad1!.activeFrom, "a pad is marked never used by createdAt > activeFrom");
    assertWellFormed(second.ring);
  });

  it("spec changes take effect at the next rotation", () => {
    const first = fresh();
    const shorter = { rotationIntervalMs: 10 * minute, retiredKeys: 1, suspend: false };
    const before = nextRing({
      previous: first.ring,
      spec: shorter,
      now: t0 + 30 * minute,
      random: seededRandom("y"),
    });
    assert.equal(before.change, "none");
    const at = nextRing({ previous: first.ring, spec: shorter, now: t0 + hour, random: seededRandom("y") });
    assert.deepEqual(span(at.ring), [
      [0, hour, hour + 10 * minute],
      [hour, 2 * hour, 2 * hour + 10 * minute],
      [2 * hour, 2 * hour + 10 * minute, 2 * hour + 20 * minute],
    ]);
  });

  it("a larger retiredKeys applies at the next rotation, pads fill the new slots", () => {
    const first = fresh({ ...spec, retiredKeys: 1 });
    const more = { ...spec, retiredKeys: 3 };
    const at = nextRing({ previous: first.ring, spec: more, now: t0 + hour, random: seededRandom("y") });
    assert.equal(at.ring.keys.length, 5);
    assert.deepEqual(span(at.ring), [
      [-2 * hour, -hour, 2 * hour], // pad: max(-1h + 3h, now + 1h), capped by the pad after it
      [-hour, 0, 3 * hour], // pad: max(0 + 3h, now + 1h), capped by the retired key after it (4h)
      [0, hour, 4 * hour], // just retired: activeUntil + 3 intervals
      [hour, 2 * hour, 5 * hour],
      [2 * hour, 3 * hour, 6 * hour],
    ]);
  });

  it("a smaller retiredKeys trims the oldest retired keys at the next rotation", () => {
    const first = fresh({ ...spec, retiredKeys: 5 });
    const fewer = { ...spec, retiredKeys: 1 };
    const at = nextRing({ previous: first.ring, spec: fewer, now: t0 + hour, random: seededRandom("y") });
    assert.deepEqual(span(at.ring), [
      [0, hour, 2 * hour],
      [hour, 2 * hour, 3 * hour],
      [2 * hour, 3 * hour, 4 * hour],
    ]);
  });
});

describe("manual rotation", () => {
  it("changes nothing in steady state: the pending key was published exactly one interval ahead", () => {
    const first = fresh();
    const rotated = nextRing({
      previous: first.ring,
      spec,
      now: t0 + 5 * minute,
      random: seededRandom("y"),
      rotate: true,
    });
    assert.equal(rotated.change, "none");
    assert.deepEqual(rotated.ring, first.ring);
  });

  it("after a shorter interval: the pending key takes over one new interval after it was created", () => {
    const first = fresh();
    const shorter = { ...spec, rotationIntervalMs: 10 * minute };
    const random = seededRandom("y");
    const early = nextRing({
      previous: first.ring,
      spec: shorter,
      now: t0 + 5 * minute,
      random,
      rotate: true,
    });
    assert.equal(early.change, "rotated");
    assert.deepEqual(span(early.ring).slice(2), [
      [0, 10 * minute, 30 * minute],
      [10 * minute, 20 * minute, 40 * minute],
    ]);
    assert.equal(early.nextWake, t0 + 10 * minute);
    // Once that instant has passed, a rotation happens at once.
    const now = t0 + 15 * minute;
    const immediate = nextRing({ previous: first.ring, spec: shorter, now, random, rotate: true });
    assert.equal(immediate.change, "rotated");
    assert.deepEqual(states(immediate.ring, now), ["retired", "retired", "active", "pending"]);
    assert.deepEqual(span(immediate.ring).slice(1), [
      [0, 15 * minute, 35 * minute],
      [15 * minute, 25 * minute, 45 * minute],
      [25 * minute, 35 * minute, 55 * minute],
    ]);
  });

  it("is ignored while suspended", () => {
    const first = fresh();
    const shorter = { ...spec, rotationIntervalMs: 10 * minute, suspend: true };
    const result = nextRing({
      previous: first.ring,
      spec: shorter,
      now: t0 + 30 * minute,
      random: seededRandom("y"),
      rotate: true,
    });
    assert.equal(result.change, "none");
  });
});

describe("suspend", () => {
  const suspended = { ...spec, suspend: true };

  it("creates no key and moves no timestamp; the last key keeps encrypting", () => {
    const first = fresh();
    const later = nextRing({
      previous: first.ring,
      spec: suspended,
      now: t0 + hour,
      random: seededRandom("y"),
    });
    assert.equal(later.change, "purged"); // the oldest pad expired at t0 + 1h and was replaced
    assert.deepEqual(span(later.ring).slice(1), span(first.ring).slice(1));
    assert.deepEqual(states(later.ring, t0 + hour), ["retired", "retired", "retired", "active"]);
  });

  it("still purges expired keys and pads so the count stays R + 2", () => {
    let step = fresh();
    const random = seededRandom("y");
    for (let i = 0; i < 20; i++) {
      const now = step.nextWake;
      step = nextRing({ previous: step.ring, spec: suspended, now, random });
      assert.equal(step.ring.keys.length, 4);
      assert.ok(step.ring.keys.every((key) => keyState(step.ring, key, now) !== "gone"));
      assert.ok(step.nextWake > now);
      assertWellFormed(step.ring);
    }
    assert.ok(step.nextWake - t0 > 20 * hour - hour, "pads live about one interval, no busy loop");
  });

  it("resuming rotates at once with the new key one interval ahead", () => {
    const first = fresh();
    const now = t0 + 3 * hour;
    const paused = nextRing({ previous: first.ring, spec: suspended, now, random: seededRandom("y") });
    const resumed = nextRing({ previous: paused.ring, spec, now, random: seededRandom("z") });
    assert.equal(resumed.change, "rotated");
    const [, , active, pending] = resumed.ring.keys;
    assert.deepEqual([active!.activeFrom, active!.activeUntil], [t0 + hour, now + hour]);
    assert.deepEqual([pending!.activeFrom, pending!.createdAt], [now + hour, now]);
  });
});

describe("nextRing input", () => {
  it("rejects invalid specs and clocks", () => {
    const random = seededRandom("x");
    assert.throws(
      () => nextRing({ previous: undefined, spec: { ...spec, rotationIntervalMs: 0 }, now: t0, random }),
      RangeError,
    );
    assert.throws(
      () => nextRing({ previous: undefined, spec: { ...spec, retiredKeys: -1 }, now: t0, random }),
      RangeError,
    );
    assert.throws(
      () => nextRing({ previous: undefined, spec: { ...spec, retiredKeys: 63 }, now: t0, random }),
      RangeError,
    );
    assert.throws(() => nextRing({ previous: undefined, spec, now: Number.NaN, random }), RangeError);
  });

  it("rejects a random source that returns the wrong number of bytes", () => {
    assert.throws(
      () => nextRing({ previous: undefined, spec, now: t0, random: () => Buffer.alloc(8) }),
      /16 bytes/,
    );
  });

  it("redraws a name already in the ring, and gives up on a stuck source", () => {
    const draws = [Buffer.alloc(16, 1), Buffer.alloc(32, 2), Buffer.alloc(16, 1), Buffer.alloc(16, 3)];
    const random = (bytes: number) => draws.shift() ?? Buffer.alloc(bytes, draws.length + 9);
    const { ring } = nextRing({ previous: undefined, spec: { ...spec, retiredKeys: 0 }, now: t0, random });
    assert.deepEqual(
      ring.keys.map((key) => key.name[0]),
      [1, 3],
    );
    assert.throws(
      () => nextRing({ previous: undefined, spec, now: t0, random: (n) => Buffer.alloc(n) }),
      /keeps returning/,
    );
  });

  it("never mutates the previous ring", () => {
    const first = fresh();
    const snapshot = serializeRing(first.ring);
    nextRing({
      previous: first.ring,
      spec: { ...spec, rotationIntervalMs: 10 * minute },
      now: t0 + 2 * hour,
      random: seededRandom("y"),
      rotate: true,
    });
    assert.equal(serializeRing(first.ring), snapshot);
  });
});
