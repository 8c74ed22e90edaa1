import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  activeKey,
  keyId,
  keyState,
  liveKeys,
  nextStateChange,
  parseRing,
  serializeRing,
  type Ring,
} from "../../../src/core/index.ts";
import { hour, makeKey } from "./helpers.ts";

const t0 = Date.UTC(2026, 10, 22, 10);
// retired (gone at t0 + 1h), active [t0, t0+1h), pending [t0+1h, t0+2h)
const ring: Ring = {
  keys: [
    makeKey(0, t0 - hour, t0, t0 + hour),
    makeKey(1, t0, t0 + hour, t0 + 2 * hour),
    makeKey(2, t0 + hour, t0 + 2 * hour, t0 + 3 * hour),
  ],
};
const [retired, active, pending] = ring.keys as [
  (typeof ring.keys)[0],
  (typeof ring.keys)[0],
  (typeof ring.keys)[0],
];

describe("key states", () => {
  it("follow the clock", () => {
    assert.equal(activeKey(ring, t0), active);
    assert.equal(activeKey(ring, t0 + hour - 1), active);
    assert.equal(activeKey(ring, t0 + hour), pending);
    assert.deepEqual(
      ring.keys.map((key) => keyState(ring, key, t0)),
      ["retired", "active", "pending"],
    );
    assert.deepEqual(
      ring.keys.map((key) => keyState(ring, key, t0 + hour)),
      ["gone", "retired", "active"],
    );
  });

  it("keep the last started key active after its activeUntil and expiresAt", () => {
    const late = t0 + 10 * hour;
    assert.equal(activeKey(ring, late), pending);
    assert.equal(keyState(ring, pending, late), "active");
    assert.deepEqual(liveKeys(ring, late), [pending]);
  });

  it("have no active key before the first key starts", () => {
    assert.equal(activeKey(ring, t0 - 2 * hour), undefined);
    assert.equal(keyState(ring, retired, t0 - 2 * hour), "pending");
  });

  it("liveKeys drops gone keys", () => {
    assert.deepEqual(liveKeys(ring, t0), ring.keys);
    assert.deepEqual(liveKeys(ring, t0 + hour), [active, pending]);
  });

  it("nextStateChange is the next activation or expiry of a non-active key", () => {
    assert.equal(nextStateChange(ring, t0), t0 + hour);
    assert.equal(nextStateChange(ring, t0 + hour), t0 + 2 * hour);
    assert.equal(nextStateChange(ring, t0 + 10 * hour), undefined);
  });

  it("keyId is the first 8 hex characters of the name", () => {
    assert.equal(keyId(active), "02020202");
    assert.equal(keyId({ name: Buffer.from("3f2a9c01aabbccddeeff001122334455", "hex") }), "3f2a9c01");
  });
});

describe("ring.json", () => {
  it("is exactly the layout of docs/design.md", () => {
    const key = {
      name: Buffer.from("3f2a9c0112233445566778899aabbccd", "hex"),
      seed: Buffer.alloc(32, 7),
      createdAt: t0 - hour,
      activeFrom: t0,
      activeUntil: t0 + hour,
      expiresAt: t0 + 2 * hour,
    };
    assert.equal(
      serializeRing({ keys: [key] }),
      '{"version":1,"keys":[{"name":"3f2a9c0112233445566778899aabbccd",' +
        '"seed":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=","createdAt":"2026-11-22T09:00:00.000Z",' +
        '"activeFrom":"2026-11-22T10:00:00.000Z","activeUntil":"2026-11-22T11:00:00.000Z",' +
        '"expiresAt":"2026-11-22T12:00:00.000Z"}]}',
    );
  });

  it("orders keys by activeFrom", () => {
    const shuffled = { keys: [pending, retired, active] };
    assert.equal(serializeRing(shuffled), serializeRing(ring));
  });

  it("round-trips from a string and from a Buffer", () => {
    const text = serializeRing(ring);
    assert.deepEqual(parseRing(text), ring);
    assert.deepEqual(parseRing(Buffer.from(text)), ring);
    assert.equal(serializeRing(parseRing(text)), text);
  });

  it("accepts RFC 3339 UTC timestamps without or with fewer fraction digits", () => {
    const text = serializeRing(ring).replaceAll(".000Z", "Z");
    assert.deepEqual(parseRing(text), ring);
    assert.deepEqual(parseRing(serializeRing(ring).replaceAll(".000Z", ".0Z")), ring);
  });

  it("ignores unknown fields", () => {
    const json = JSON.parse(serializeRing(ring)) as { keys: Record<string, unknown>[] };
    (json as Record<string, unknown>).comment = "x";
    json.keys[0]!.note = "y";
    assert.deepEqual(parseRing(JSON.stringify(json)), ring);
  });
});
