import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import {
  activeKey,
  expiryCoalesceMs,
  keyState,
  nextRing,
  nextStateChange,
  parseRing,
  serializeRing,
  type Key,
  type KeyState,
  type Ring,
  type ScheduleResult,
  type ScheduleSpec,
} from "../../../src/core/index.ts";
import { assertWellFormed, hex, hour, recording, replay, seededRandom } from "./helpers.ts";

/**
 * Simulates a controller reconciling one policy thousands of times, with random specs, clocks,
 * downtime, spec changes, manual rotations, suspensions and revokes, and checks every invariant
 * of docs/design.md#invariants after each reconcile and at sampled instants between reconciles.
 * CORE_RUNS=5000 runs a longer search (about 50 s, 180 000 reconciles) and prints the coverage.
 */

type Timing =
  | { kind: "onTime" }
  | { kind: "jitter"; ms: number } // around nextWake, either side
  | { kind: "late"; intervals: number } // up to two intervals after nextWake
  | { kind: "early"; fraction: number } // before nextWake (e.g. a spec watch event)
  | { kind: "down"; intervals: number }; // controller downtime

interface Step {
  timing: Timing;
  spec: { rotationIntervalMs: number; retiredKeys: number } | null;
  toggleSuspend: boolean;
  rotate: boolean;
  revoke: boolean;
  samples: number[];
}

const interval = fc.oneof(
  fc.constantFrom(10_000, 60_000, hour, 168 * hour),
  fc.integer({ min: 10_000, max: 168 * hour }),
);
const retiredKeys = fc.integer({ min: 1, max: 10 });
const fraction = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const rarely = (oneIn: number) => fc.integer({ min: 1, max: oneIn }).map((n) => n === 1);

const timing: fc.Arbitrary<Timing> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({ kind: "onTime" as const }) },
  {
    weight: 2,
    arbitrary: fc.integer({ min: -5000, max: 5000 }).map((ms) => ({ kind: "jitter" as const, ms })),
  },
  {
    weight: 2,
    arbitrary: fc
      .double({ min: 0, max: 2, noNaN: true })
      .map((n) => ({ kind: "late" as const, intervals: n })),
  },
  { weight: 3, arbitrary: fraction.map((f) => ({ kind: "early" as const, fraction: f })) },
  {
    weight: 1,
    arbitrary: fc
      .double({ min: 1, max: 15, noNaN: true })
      .map((n) => ({ kind: "down" as const, intervals: n })),
  },
);

const step: fc.Arbitrary<Step> = fc.record({
  timing,
  spec: fc.oneof(
    { weight: 12, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.record({ rotationIntervalMs: interval, retiredKeys }) },
  ),
  toggleSuspend: rarely(30),
  rotate: rarely(8),
  revoke: rarely(60),
  samples: fc.array(fraction, { minLength: 1, maxLength: 3 }),
});

const scenario = fc.record({
  seed: fc.nat(),
  start: fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
  spec: fc.record({ rotationIntervalMs: interval, retiredKeys, suspend: fc.constant(false) }),
  steps: fc.array(step, { minLength: 20, maxLength: 80 }),
});

function nextTime(t: Timing, now: number, wake: number, intervalMs: number): number {
  switch (t.kind) {
    case "onTime":
      return wake;
    case "jitter":
      return Math.max(now, wake + t.ms);
    case "late":
      return wake + Math.floor(t.intervals * intervalMs);
    case "early":
      return now + Math.floor(t.fraction * (wake - now));
    case "down":
      return wake + Math.floor(t.intervals * intervalMs);
  }
}

const stateVector = (ring: Ring, at: number): KeyState[] => ring.keys.map((key) => keyState(ring, key, at));
const count = (states: KeyState[], state: KeyState) => states.filter((s) => s === state).length;
const isPad = (key: Key) => key.createdAt > key.activeFrom;

/** A key's promise at retirement: decryptable until expiresAt = activeUntil + R x I of that time. */
interface Retention {
  expiresAt: number;
  retiredKeys: number;
  intervalMs: number;
  shrunk: boolean; // the spec got smaller since: the key may leave earlier, on purpose
}

const coverage = {
  reconciles: 0,
  rotated: 0,
  purged: 0,
  revoked: 0,
  manualEarly: 0,
  suspendedPads: 0,
  checkedWindows: 0,
};

class Simulation {
  spec: ScheduleSpec;
  now: number;
  current: ScheduleResult;
  readonly random;
  readonly firstSeen = new Map<string, number>();
  readonly minInterval = new Map<string, number>();
  readonly publishExempt = new Set<string>();
  readonly promises = new Map<string, Retention>();
  readonly lastExpiry = new Map<string, number>();
  /** The spec that last computed each key's expiresAt (a suspended policy keeps older ones). */
  readonly expirySpec = new Map<string, { retiredKeys: number; intervalMs: number }>();
  /** retiredKeys of the last ring that was full (generated, revoked or rotated); null after a change of R. */
  fullAt: number | null = null;

  constructor(seed: number, start: number, spec: ScheduleSpec) {
    this.random = seededRandom(seed);
    this.spec = spec;
    this.now = start;
    this.current = this.reconcile(undefined, start, {});
  }

  reconcile(
    previous: Ring | undefined,
    now: number,
    flags: { rotate?: boolean; revoke?: boolean },
  ): ScheduleResult {
    const source = recording(this.random);
    const input = { previous, spec: { ...this.spec }, now, ...flags };
    const result = nextRing({ ...input, random: source.random });
    assert.deepEqual(
      nextRing({ ...input, random: replay(source.drawn) }),
      result,
      "same inputs give the same ring",
    );
    this.observe(previous, result, now, flags);
    return result;
  }

  /** Checks the window [now, min(next, nextWake)) of the current ring, as consumers see it. */
  checkBetween(next: number, samples: number[]): void {
    const { ring, nextWake } = this.current;
    const end = Math.min(next, nextWake);
    const atNow = stateVector(ring, this.now);
    for (const at of [
      this.now,
      end - 1,
      ...samples.map((f) => this.now + Math.floor(f * (end - this.now))),
    ]) {
      if (at < this.now || at >= end) continue;
      coverage.checkedWindows++;
      const states = stateVector(ring, at);
      // The one change allowed before nextWake: a retired key expiring at most expiryCoalesceMs
      // before the rotation that nextWake is (it leaves the Secret at that rotation's reconcile).
      const coalesced = nextWake - at <= expiryCoalesceMs;
      assert.deepEqual(
        states.map((s, i) => (coalesced && s === "gone" && atNow[i] === "retired" ? "retired" : s)),
        atNow,
        "no state changes before nextWake",
      );
      if (!coalesced) assert.equal(count(states, "gone"), 0, "no gone key in the Secret");
      if (!this.spec.suspend) {
        assert.equal(count(states, "active"), 1, "exactly one active key");
        assert.equal(count(states, "pending"), 1, "exactly one pending key");
      }
    }
    if (nextStateChange(ring, this.now) !== undefined) {
      assert.notDeepEqual(stateVector(ring, nextWake), atNow, "something changes at nextWake");
    }
  }

  run(s: Step): void {
    const next = nextTime(s.timing, this.now, this.current.nextWake, this.spec.rotationIntervalMs);
    this.checkBetween(next, s.samples);
    if (s.spec) this.changeSpec({ ...this.spec, ...s.spec });
    if (s.toggleSuspend) this.changeSpec({ ...this.spec, suspend: !this.spec.suspend });
    const previous = this.current.ring;
    this.current = this.reconcile(previous, next, { rotate: s.rotate, revoke: s.revoke });
    this.now = next;
  }

  changeSpec(spec: ScheduleSpec): void {
    if (spec.retiredKeys !== this.spec.retiredKeys) this.fullAt = null;
    for (const promise of this.promises.values()) {
      if (spec.retiredKeys < promise.retiredKeys || spec.rotationIntervalMs < promise.intervalMs)
        promise.shrunk = true;
    }
    this.spec = spec;
  }

  observe(
    previous: Ring | undefined,
    result: ScheduleResult,
    now: number,
    flags: { rotate?: boolean; revoke?: boolean },
  ) {
    const { ring, change, nextWake } = result;
    const { rotationIntervalMs: I, retiredKeys: R, suspend } = this.spec;
    coverage.reconciles++;
    assertWellFormed(ring);
    assert.deepEqual(parseRing(serializeRing(ring)), ring, "ring.json round trip");
    assert.ok(nextWake > now, "nextWake > now");
    const change0 = nextStateChange(ring, now) ?? now + I;
    const rotation = ring.keys.find((key) => key.activeFrom > now)?.activeFrom;
    assert.ok(
      nextWake === change0 || (nextWake === rotation && rotation - change0 <= expiryCoalesceMs),
      "nextWake is the next state change, or the rotation an expiry just before it waits for",
    );

    const states = stateVector(ring, now);
    assert.equal(count(states, "gone"), 0, "gone no later than the first reconcile at or after expiresAt");
    assert.equal(count(states, "active"), 1, "one active key after every reconcile");
    if (!suspend) assert.equal(count(states, "pending"), 1, "one pending key after every reconcile");
    assert.ok(!isPad(activeKey(ring, now)!), "a never-used padding key never encrypts");

    if (flags.revoke === true || previous === undefined) {
      assert.equal(change, flags.revoke === true ? "revoked" : "generated");
      const old = new Set(previous?.keys.map(hex));
      assert.ok(
        ring.keys.every((key) => !old.has(hex(key))),
        "a revoke replaces every key",
      );
      this.promises.clear();
    }
    if (change === "revoked") coverage.revoked++;
    if (change === "purged") coverage.purged++;
    if (change === "rotated") coverage.rotated++;
    if (change === "rotated" && flags.rotate === true && (previous?.keys.at(-1)?.activeFrom ?? 0) > now)
      coverage.manualEarly++;
    if (change === "purged" && suspend) coverage.suspendedPads++;

    // Constant count R + 2 once full.
    if (change === "generated" || change === "revoked" || change === "rotated") this.fullAt = R;
    if (this.fullAt === R) assert.equal(ring.keys.length, R + 2, "R + 2 keys");
    if (change === "none") assert.deepEqual(ring, previous);

    this.checkPublication(ring, change, now, I);
    this.checkPromises(previous, ring, change, now);
  }

  /** Each key is published at least one interval (the smallest since its creation) before it encrypts. */
  checkPublication(ring: Ring, change: string, now: number, I: number): void {
    const fresh = change === "generated" || change === "revoked";
    for (const key of ring.keys) {
      const name = hex(key);
      if (!this.firstSeen.has(name)) {
        this.firstSeen.set(name, now);
        this.minInterval.set(name, I);
        assert.equal(key.createdAt, now, "createdAt is the reconcile that created the key");
        if (isPad(key) || (fresh && key.activeFrom <= now)) this.publishExempt.add(name);
        else assert.ok(key.activeFrom >= now + I, "a new key starts at least one interval later");
      }
      this.minInterval.set(name, Math.min(this.minInterval.get(name)!, I));
      if (this.publishExempt.has(name)) continue;
      const published = key.activeFrom - this.firstSeen.get(name)!;
      assert.ok(published >= this.minInterval.get(name)!, "published one full interval before it encrypts");
    }
  }

  /**
   * A retired key stays decryptable R intervals after it stops encrypting, and its expiry never
   * moves later, except for the key that just stopped encrypting at a rotation: it gets the current
   * spec, also when it stopped long ago while the policy was suspended.
   */
  checkPromises(previous: Ring | undefined, ring: Ring, change: string, now: number): void {
    const inRing = new Map(ring.keys.map((key) => [hex(key), key]));
    const justRetired = change === "rotated" && previous ? previous.keys.at(-2) : undefined;
    for (const [name, promise] of this.promises) {
      const key = inRing.get(name);
      if (key === undefined) {
        assert.ok(now >= promise.expiresAt || promise.shrunk, "a retired key stays until its expiresAt");
        this.promises.delete(name);
      } else if (justRetired !== undefined && hex(justRetired) === name && !this.spec.suspend) {
        const { rotationIntervalMs: I, retiredKeys: R } = this.spec;
        assert.equal(
          key.expiresAt,
          key.activeUntil + R * I,
          "the key that just retired gets the current spec",
        );
        this.promises.set(name, { expiresAt: key.expiresAt, retiredKeys: R, intervalMs: I, shrunk: false });
      } else {
        assert.ok(key.expiresAt <= promise.expiresAt, "a retired key's expiry never moves later");
      }
    }
    const { rotationIntervalMs: I, retiredKeys: R, suspend } = this.spec;
    for (const key of ring.keys) {
      const name = hex(key);
      if (this.lastExpiry.get(name) !== key.expiresAt)
        this.expirySpec.set(name, { retiredKeys: R, intervalMs: I });
      this.lastExpiry.set(name, key.expiresAt);
    }
    for (const key of ring.keys) {
      const name = hex(key);
      if (isPad(key) || this.promises.has(name) || keyState(ring, key, now) !== "retired") continue;
      if (!suspend) {
        assert.equal(change, "rotated", "keys retire at a rotation");
        assert.equal(key.expiresAt, key.activeUntil + R * I, "expiresAt = activeUntil + R x I at retirement");
      }
      const computed = this.expirySpec.get(name)!;
      const shrunk = R < computed.retiredKeys || I < computed.intervalMs;
      this.promises.set(name, { expiresAt: key.expiresAt, ...computed, shrunk });
    }
  }
}

describe("the key schedule (simulated controller)", () => {
  after(() => {
    // The scenarios must reach every path they claim to test.
    if (process.env.CORE_RUNS !== undefined) console.log(coverage);
    for (const [what, n] of Object.entries(coverage)) assert.ok(n > 0, `no ${what} in the simulation`);
  });

  it("keeps every invariant of docs/design.md over thousands of reconciles", () => {
    fc.assert(
      fc.property(scenario, ({ seed, start, spec, steps }) => {
        const simulation = new Simulation(seed, start, spec);
        for (const s of steps) simulation.run(s);
      }),
      { numRuns: Number(process.env.CORE_RUNS ?? 250) },
    );
    assert.ok(coverage.reconciles > 5000, `only ${coverage.reconciles} reconciles`);
  });

  it("keeps every invariant when the controller always wakes exactly on time", () => {
    const onTime = fc.record({
      seed: fc.nat(),
      start: fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
      spec: fc.record({ rotationIntervalMs: interval, retiredKeys, suspend: fc.constant(false) }),
      steps: fc.array(
        step.map((s) => ({ ...s, timing: { kind: "onTime" as const }, toggleSuspend: false, revoke: false })),
        { minLength: 30, maxLength: 60 },
      ),
    });
    fc.assert(
      fc.property(onTime, ({ seed, start, spec, steps }) => {
        const simulation = new Simulation(seed, start, spec);
        for (const s of steps) simulation.run(s);
      }),
      { numRuns: 100 },
    );
  });
});
