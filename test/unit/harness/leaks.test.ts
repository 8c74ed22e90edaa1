/**
 * The tests' key-leak scan (harness/leaks.ts), which every leak check of the controller, the
 * library and the sidecar uses: it finds key material in each form a log line could hold it, it
 * does not flag what may be logged (a key id), and a failure names the place, never the material.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keyId, nextRing, renderKey } from "../../../src/core/index.ts";
import { findLeaks, keyNeedles, leakNeedles } from "../../../harness/leaks.ts";
import { hour, seededRandom } from "../core/helpers.ts";

const spec = { rotationIntervalMs: hour, retiredKeys: 1, suspend: false };
const ring = nextRing({ previous: undefined, spec, now: 0, random: seededRandom("leaks") }).ring;
const key = ring.keys[0]!;
const nginx = renderKey(key, "nginx", 80);
const node = renderKey(key, "node", 48);

/** Lines that each hold key material in one form. */
const leaking: [string, string][] = [
  ["the seed in hex", key.seed.toString("hex")],
  ["the seed in base64", key.seed.toString("base64")],
  ["the name in hex", key.name.toString("hex")],
  ["an nginx rendering in base64", nginx.toString("base64")],
  ["a node rendering in base64url", node.toString("base64url")],
  ["the HMAC part of a rendering in hex", nginx.subarray(16, 32).toString("hex")],
  ["the AES part of a rendering in base64", nginx.subarray(32, 48).toString("base64")],
  ["the secret tail of a rendering in base64", nginx.subarray(16).toString("base64")],
];

describe("the key-leak scan", () => {
  for (const [options, label] of [
    [{}, "whole encodings"],
    [{ window: 10 }, "10-character pieces"],
  ] as const) {
    it(`finds key material in every form (${label})`, () => {
      const needles = keyNeedles(ring.keys, options);
      for (const [what, text] of leaking) {
        const prefix = '{"msg":"applied","detail":"';
        const line = `${prefix}${text}"}`;
        assert.deepEqual(
          findLeaks(["clean", line], needles),
          [`text 1: key material at character ${prefix.length}`],
          what,
        );
      }
    });
  }

  it("finds a 10-character piece only with { window: 10 }", () => {
    const piece = `x ${key.seed.toString("hex").slice(7, 17)} y`;
    assert.deepEqual(findLeaks([piece], keyNeedles(ring.keys)), []);
    assert.deepEqual(findLeaks([piece], keyNeedles(ring.keys, { window: 10 })), [
      "text 0: key material at character 2",
    ]);
  });

  it("does not flag key ids or unrelated text, and reports a leak without repeating it", () => {
    const needles = keyNeedles(ring.keys, { window: 10 });
    const ids = ring.keys.map((k) => `ticket keys applied, activeKey ${keyId(k)}`);
    assert.deepEqual(findLeaks(ids, needles), []);
    const [found] = findLeaks([`leak: ${key.seed.toString("base64")}`], needles);
    assert.ok(found !== undefined);
    for (const needle of needles) assert.ok(!found.includes(needle), "the report repeats key material");
  });

  it("Secret bytes: hex, base64 and base64url prefixes of the whole and of the pieces after the name", () => {
    const needles = leakNeedles([nginx]);
    assert.ok(needles.includes(nginx.toString("hex")));
    assert.ok(needles.includes(nginx.toString("base64").slice(0, 20)));
    assert.ok(needles.includes(nginx.subarray(16).toString("base64url").slice(0, 20)));
    assert.ok(needles.includes(nginx.subarray(32, 48).toString("hex")));
    assert.deepEqual(leakNeedles([Buffer.alloc(8)]), [], "too short to be key material");
  });
});
