import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { durationPattern, formatDuration, parseDuration } from "../../../src/core/index.ts";

describe("parseDuration", () => {
  it("parses Go durations made of h, m and s", () => {
    assert.equal(parseDuration("1h"), 3_600_000);
    assert.equal(parseDuration("90s"), 90_000);
    assert.equal(parseDuration("1h30m"), 5_400_000);
    assert.equal(parseDuration("168h"), 604_800_000);
    assert.equal(parseDuration("2m30.5s"), 150_500);
    assert.equal(parseDuration("1.5h"), 5_400_000);
    assert.equal(parseDuration("10s"), 10_000);
    assert.equal(parseDuration("0"), 0);
    assert.equal(parseDuration("0s"), 0);
    assert.equal(parseDuration("1h0m0s"), 3_600_000);
  });

  it("rejects anything else with a clear message", () => {
    for (const bad of [
      "",
      "1",
      "h",
      "1d",
      "1ms",
      "-1h",
      "+1h",
      "1.h",
      ".5s",
      " 1h",
      "1h ",
      "1H",
      "0.0001s",
      "1e3s",
    ]) {
      assert.throws(() => parseDuration(bad), /invalid duration/, bad);
    }
    assert.throws(() => parseDuration("0.0001s"), /whole number of milliseconds/);
    assert.throws(() => parseDuration("99999999999999999h"), /too large/);
    assert.throws(() => parseDuration("1h".repeat(100)), /longer than 64 characters/);
  });

  it("accepts exactly what durationPattern matches (within range)", () => {
    const pattern = new RegExp(durationPattern);
    const units = { h: 3_600_000, m: 60_000, s: 1000 } as const;
    const term = fc.tuple(
      fc.nat({ max: 999 }),
      fc.option(fc.stringMatching(/^[0-9]{1,3}$/)),
      fc.constantFrom<keyof typeof units>("h", "m", "s"),
    );
    fc.assert(
      fc.property(fc.array(term, { minLength: 1, maxLength: 4 }), (terms) => {
        const text = terms.map(
          ([whole, fraction, unit]) => `${whole}${fraction === null ? "" : `.${fraction}`}${unit}`,
        );
        const expected = terms.reduce(
          (sum, [whole, fraction, unit]) =>
            sum + Math.round(Number(`${whole}.${fraction ?? "0"}`) * units[unit]),
          0,
        );
        assert.ok(pattern.test(text.join("")));
        assert.equal(parseDuration(text.join("")), expected);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), (text) => {
        if (!pattern.test(text)) assert.throws(() => parseDuration(text));
      }),
    );
  });
});

describe("formatDuration", () => {
  it("formats like Go's time.Duration.String", () => {
    assert.equal(formatDuration(0), "0s");
    assert.equal(formatDuration(3_600_000), "1h0m0s");
    assert.equal(formatDuration(5_400_000), "1h30m0s");
    assert.equal(formatDuration(90_000), "1m30s");
    assert.equal(formatDuration(10_000), "10s");
    assert.equal(formatDuration(1_500), "1.5s");
    assert.equal(formatDuration(604_800_000), "168h0m0s");
    assert.equal(formatDuration(-90_000), "-1m30s");
  });

  it("writes sub-second durations in seconds so they parse back", () => {
    assert.equal(formatDuration(250), "0.25s");
    assert.equal(formatDuration(1), "0.001s");
  });

  it("round-trips through parseDuration", () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 42 }), (ms) => {
        assert.equal(parseDuration(formatDuration(ms)), ms);
      }),
    );
  });

  it("rejects non-integer milliseconds", () => {
    assert.throws(() => formatDuration(1.5), RangeError);
    assert.throws(() => formatDuration(Number.NaN), RangeError);
  });
});
