import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { nextRing, parseRing, RingFormatError, serializeRing } from "../../../src/core/index.ts";
import { findLeaks, keyNeedles } from "../../../harness/leaks.ts";
import { hour, seededRandom } from "./helpers.ts";

const t0 = Date.UTC(2026, 10, 22, 10);
const ring = nextRing({
  previous: undefined,
  spec: { rotationIntervalMs: hour, retiredKeys: 2, suspend: false },
  now: t0,
  random: seededRandom("rejections"),
}).ring;
const good = serializeRing(ring);
type KeyJson = Record<string, unknown>;
type RingJson = { version: unknown; keys: KeyJson[] };

/** Every way key material could show up in a message (harness/leaks.ts), in 6-character pieces. */
const secrets = keyNeedles(ring.keys, { window: 6 });

function tampered(edit: (json: RingJson) => void): string {
  const json = JSON.parse(good) as RingJson;
  edit(json);
  return JSON.stringify(json);
}

function rejection(input: string | Buffer): RingFormatError {
  try {
    parseRing(input);
  } catch (error) {
    assert.ok(error instanceof RingFormatError, `expected a RingFormatError, got ${String(error)}`);
    return error;
  }
  assert.fail("parseRing accepted a malformed ring");
}

function assertRejects(input: string | Buffer, expected: RegExp): void {
  const error = rejection(input);
  assert.match(error.message, expected);
  assertNoKeyMaterial(error);
}

function assertNoKeyMaterial(error: RingFormatError): void {
  const rendered = [error.message, String(error), JSON.stringify(error), error.stack ?? ""].join("\n");
  assert.deepEqual(findLeaks([rendered], secrets), [], "error text contains key material");
  assert.equal(error.cause, undefined);
}

const key = (i: number, edit: (key: KeyJson) => void) => (json: RingJson) => edit(json.keys[i]!);

describe("parseRing rejects", () => {
  it("truncated or non-JSON input", () => {
    for (const cut of [0, 1, 20, good.length / 2, good.length - 1]) {
      assertRejects(good.slice(0, cut), /not valid UTF-8 JSON/);
    }
    assertRejects(Buffer.from([0xff, 0xfe, 0x7b]), /not valid UTF-8 JSON/);
    assertRejects("null", /^invalid ring\.json: ring: expected object$/);
    assertRejects("[]", /ring: expected object/);
  });

  it("a wrong version or a missing or empty key list", () => {
    assertRejects(
      tampered((json) => (json.version = 2)),
      /version: expected 1/,
    );
    assertRejects(
      tampered((json) => (json.version = "1")),
      /version: expected 1/,
    );
    assertRejects('{"version":1}', /keys: required/);
    assertRejects('{"version":1,"keys":{}}', /keys: expected an array/);
    assertRejects('{"version":1,"keys":[]}', /keys: expected at least one key/);
  });

  it("too many keys", () => {
    const json = JSON.parse(good) as RingJson;
    const many = Array.from({ length: 65 }, (_, i) => ({
      ...json.keys[0],
      name: i.toString(16).padStart(32, "0"),
      activeFrom: new Date(t0 + i * hour).toISOString(),
      activeUntil: new Date(t0 + (i + 1) * hour).toISOString(),
      expiresAt: new Date(t0 + (i + 2) * hour).toISOString(),
    }));
    assertRejects(JSON.stringify({ version: 1, keys: many }), /keys: expected at most 64 keys/);
  });

  it("names of the wrong length or alphabet", () => {
    assertRejects(
      tampered(key(1, (k) => (k.name = String(k.name).slice(2)))),
      /keys\[1\]\.name: expected 16 bytes/,
    );
    assertRejects(
      tampered(key(1, (k) => (k.name = `${String(k.name)}00`))),
      /keys\[1\]\.name: expected 16 bytes/,
    );
    assertRejects(tampered(key(1, (k) => (k.name = String(k.name).toUpperCase()))), /keys\[1\]\.name/);
    assertRejects(tampered(key(1, (k) => (k.name = `zz${String(k.name).slice(2)}`))), /keys\[1\]\.name/);
    assertRejects(tampered(key(1, (k) => (k.name = 42))), /keys\[1\]\.name: expected a string/);
    assertRejects(tampered(key(1, (k) => delete k.name)), /keys\[1\]\.name: required/);
  });

  it("seeds of the wrong length or bad base64", () => {
    const seed = (edit: (seed: string) => string) => tampered(key(2, (k) => (k.seed = edit(String(k.seed)))));
    const expected = /keys\[2\]\.seed: expected base64 of 32 bytes/;
    assertRejects(
      seed((s) => s.slice(4)),
      expected,
    );
    assertRejects(
      seed((s) => `AAAA${s}`),
      expected,
    );
    assertRejects(
      seed((s) => s.replace("=", "")),
      expected,
    );
    assertRejects(
      seed((s) => `!${s.slice(1)}`),
      expected,
    );
    assertRejects(
      seed((s) => `${s.slice(0, 20)} ${s.slice(21)}`),
      expected,
    );
    assertRejects(
      seed((s) => `${s.slice(0, 42)}B=`),
      expected,
    ); // non-canonical padding bits
    assertRejects(
      seed((s) => Buffer.from(s, "base64").toString("base64url")),
      /seed/,
    );
    assertRejects(
      seed(() => ""),
      expected,
    );
  });

  it("invalid instants", () => {
    const at = (field: string, value: unknown) => tampered(key(0, (k) => (k[field] = value)));
    const expected = /keys\[0\]\.activeFrom: expected an RFC 3339 UTC timestamp/;
    for (const bad of [
      "2026-02-30T10:00:00.000Z",
      "2026-11-22T24:00:00.000Z",
      "2026-11-22T10:00:60.000Z",
      "2026-11-22T10:00:00.000+00:00",
      "2026-11-22 10:00:00Z",
      "2026-11-22T10:00:00.0000Z",
      "1969-12-31T23:59:59.999Z",
      "+010000-01-01T00:00:00.000Z",
      "",
      "now",
    ]) {
      assertRejects(at("activeFrom", bad), expected);
    }
    assertRejects(at("activeFrom", 1_763_805_600_000), /keys\[0\]\.activeFrom: expected a string/);
  });

  it("instants out of order within a key", () => {
    const swap = (a: string, b: string) => (k: KeyJson) => ([k[a], k[b]] = [k[b], k[a]]);
    assertRejects(
      tampered(key(0, swap("activeFrom", "activeUntil"))),
      /keys\[0\]\.activeUntil: must be after activeFrom/,
    );
    assertRejects(
      tampered(key(3, (k) => (k.activeUntil = k.activeFrom))),
      /keys\[3\]\.activeUntil: must be after/,
    );
    assertRejects(
      tampered(key(3, swap("activeUntil", "expiresAt"))),
      /keys\[3\]\.expiresAt: must not be before/,
    );
    assertRejects(
      tampered(key(3, (k) => (k.createdAt = "2099-01-01T00:00:00.000Z"))),
      /keys\[3\]\.createdAt: must not be after expiresAt/,
    );
  });

  it("unsorted keys and duplicate names", () => {
    assertRejects(
      tampered((json) => json.keys.reverse()),
      /keys\[1\]\.activeFrom: keys must be sorted by activeFrom/,
    );
    assertRejects(
      tampered((json) => (json.keys[3]!.name = json.keys[0]!.name)),
      /keys\[3\]\.name: duplicate key name/,
    );
  });

  it("inputs larger than 1 MiB", () => {
    assertRejects(" ".repeat(2 ** 20 + 1), /larger than 1 MiB/);
  });

  it("random corruptions with a RingFormatError that carries no key material", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: good.length - 1 }),
        fc.nat({ max: 40 }),
        fc.string({ maxLength: 8 }),
        (at, cut, text) => {
          const input = good.slice(0, at) + text + good.slice(at + cut);
          let parsed;
          try {
            parsed = parseRing(input);
          } catch (error) {
            assert.ok(error instanceof RingFormatError);
            assertNoKeyMaterial(error);
            return;
          }
          // An edit that kept the ring valid (e.g. merging two key objects whose fields repeat).
          assert.deepEqual(parseRing(serializeRing(parsed)), parsed);
        },
      ),
      { numRuns: 500 },
    );
  });
});
