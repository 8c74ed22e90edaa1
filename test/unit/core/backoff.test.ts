import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";

import { backoffCeiling, backoffDelay } from "../../../src/core/backoff.ts";

/** A random source that returns `values` in turn and counts its calls. */
function scripted(...values: number[]): { random: () => number; calls: () => number } {
  let i = 0;
  return {
    random: () => {
      const value = values[i % values.length]!;
      i++;
      return value;
    },
    calls: () => i,
  };
}

const top = 1 - Number.EPSILON; // the largest value Math.random can return, nearly

describe("backoff", () => {
  it("doubles the ceiling from the base up to the cap", () => {
    const options = { baseMs: 500, capMs: 30_000 };
    const ceilings = Array.from({ length: 9 }, (_, i) => backoffCeiling(i + 1, options));
    assert.deepEqual(ceilings, [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
    assert.deepEqual(
      ceilings.map((_, i) => backoffDelay(i + 1, { ...options, random: () => top })),
      ceilings,
      "the top of the draw is the ceiling",
    );
  });

  it("draws the wait from the top `jitter` fraction of the ceiling (default half)", () => {
    const options = { baseMs: 1000, capMs: 8000 };
    assert.equal(backoffDelay(3, { ...options, random: () => 0 }), 2000);
    assert.equal(backoffDelay(3, { ...options, random: () => 0.5 }), 3000);
    assert.equal(backoffDelay(3, { ...options, random: () => top }), 4000);
    assert.equal(backoffDelay(3, { ...options, jitter: 0, random: () => 0 }), 4000, "no jitter");
    assert.equal(backoffDelay(3, { ...options, jitter: 1, random: () => 0 }), 0, "full jitter");
    assert.equal(backoffDelay(3, { ...options, jitter: 0.2, random: () => 0 }), 3200);
  });

  it("uses the random source once per wait, and only it", () => {
    const source = scripted(0.25, 0.75);
    const waits = [1, 1, 2, 2].map((n) =>
      backoffDelay(n, { baseMs: 400, capMs: 10_000, random: source.random }),
    );
    assert.deepEqual(waits, [250, 350, 500, 700]);
    assert.equal(source.calls(), 4);
  });

  it("grows by `factor`, and is the base for a first failure or none", () => {
    const options = { baseMs: 100, capMs: 10_000, factor: 3 };
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6].map((n) => backoffCeiling(n, options)),
      [100, 100, 300, 900, 2700, 8100, 10_000],
    );
    assert.equal(backoffCeiling(7, { ...options, factor: 1 }), 100, "factor 1: constant");
  });

  it("stays at the cap for any run of failures (no overflow), and at 0 for a zero base", () => {
    for (const n of [31, 1100, 1e9, Number.MAX_SAFE_INTEGER]) {
      assert.equal(backoffDelay(n, { baseMs: 500, capMs: 300_000, random: () => top }), 300_000, `n=${n}`);
    }
    assert.equal(backoffDelay(1e9, { baseMs: 0, capMs: 300_000, random: () => top }), 0);
  });

  it("computes what the informer, the work queue and the updater computed before it (half jitter, doubling)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 3_600_000 }),
        fc.integer({ min: 1, max: 20 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (base, cap, failures, r) => {
          const before = Math.round(Math.min(cap, base * 2 ** (failures - 1)) * (0.5 + r / 2));
          assert.equal(backoffDelay(failures, { baseMs: base, capMs: cap, random: () => r }), before);
        },
      ),
    );
  });

  it("rejects options that make no backoff", () => {
    assert.throws(() => backoffDelay(1, { baseMs: -1, capMs: 10 }), RangeError);
    assert.throws(() => backoffDelay(1, { baseMs: 1, capMs: Number.NaN }), RangeError);
    assert.throws(() => backoffDelay(1, { baseMs: 1, capMs: 10, factor: 0.5 }), RangeError);
    assert.throws(() => backoffDelay(1, { baseMs: 1, capMs: 10, jitter: 1.5 }), RangeError);
  });
});
