import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { serializeRing, type Ring } from "../../../src/core/index.ts";
import { RingState } from "../../../src/consumer/ring-state.ts";
import { assertNoKeyMaterial, hour, ringHistory, secretsOf, t0 } from "./support.ts";

const rings = ringHistory(3);
const [first, second, third, fourth] = rings as [Ring, Ring, Ring, Ring];
const secrets = secretsOf(...rings);
type RingJson = { version: number; keys: Record<string, string>[] };

function edited(text: string, edit: (json: RingJson) => void): string {
  const json = JSON.parse(text) as RingJson;
  edit(json);
  return JSON.stringify(json);
}

function rejected(state: RingState, input: string | Buffer, now: number): string {
  const verdict = state.accept(input, now);
  if (verdict.accepted) assert.fail("the update was accepted");
  assertNoKeyMaterial(verdict.reason, secrets);
  return verdict.reason;
}

describe("RingState", () => {
  it("accepts good rings (bytes, text or Ring objects) and says when they change anything", () => {
    const state = new RingState();
    const text = serializeRing(first);
    const verdict = state.accept(Buffer.from(text), t0 + 1000);
    assert.ok(verdict.accepted);
    assert.equal(verdict.changed, true);
    assert.deepEqual(verdict.ring, first);
    assert.deepEqual(state.current, first);
    const again = state.accept(text, t0 + 2000);
    assert.ok(again.accepted);
    assert.equal(again.changed, false);
    const next = state.accept(second, t0 + hour + 2000);
    assert.ok(next.accepted);
    assert.equal(next.changed, true);
    assert.deepEqual(state.current, second);
  });

  it("rejects truncated and malformed input and keeps the last good ring", () => {
    const state = new RingState();
    const text = serializeRing(first);
    assert.ok(state.accept(text, t0).accepted);
    for (const cut of [0, 1, 10, text.length / 2, text.length - 1]) {
      assert.match(rejected(state, text.slice(0, cut), t0), /not valid UTF-8 JSON/);
    }
    assert.match(rejected(state, Buffer.from([0xff, 0xfe, 0x00]), t0), /not valid UTF-8 JSON/);
    assert.match(
      rejected(
        state,
        edited(text, (json) => (json.keys[1]!["seed"] = "AAAA")),
        t0,
      ),
      /keys\[1\]\.seed: expected base64 of 32 bytes/,
    );
    assert.match(
      rejected(
        state,
        edited(text, (json) => (json.version = 2)),
        t0,
      ),
      /version/,
    );
    assert.deepEqual(state.current, first);
  });

  it("rejects a known key name with a different seed (tampered), naming only the key id", () => {
    const state = new RingState();
    assert.ok(state.accept(serializeRing(first), t0).accepted);
    const victim = first.keys[1]!;
    const tampered = edited(serializeRing(first), (json) => {
      json.keys[1]!["seed"] = Buffer.alloc(32, 7).toString("base64");
    });
    const reason = rejected(state, tampered, t0);
    assert.match(reason, /tampered update: key [0-9a-f]{8} is already known with a different seed/);
    assert.ok(reason.includes(victim.name.subarray(0, 4).toString("hex")));
    assert.deepEqual(state.current, first);
    // A later good update is still accepted.
    assert.ok(state.accept(serializeRing(second), t0 + hour + 2000).accepted);
  });

  it("remembers seeds of keys that left the ring", () => {
    const state = new RingState();
    for (const [i, ring] of rings.entries()) assert.ok(state.accept(ring, t0 + i * hour + 2000).accepted);
    const gone = first.keys[0]!;
    assert.ok(!fourth.keys.some((key) => key.name.equals(gone.name)), "the oldest key is gone by then");
    const reappeared = serializeRing({
      keys: [{ ...gone, seed: Buffer.alloc(32, 9) }, ...fourth.keys.slice(1)],
    });
    assert.match(rejected(state, reappeared, t0 + 3 * hour + 3000), /already known with a different seed/);
  });

  it("rejects a replayed older ring: issued before the one in force", () => {
    const state = new RingState();
    assert.ok(state.accept(third, t0 + 2 * hour + 2000).accepted);
    // the ring before, whose keys are all still live: only issuedAt tells it is older
    assert.match(
      rejected(state, serializeRing(second), t0 + 2 * hour + 3000),
      /^replayed update: issued at \S+Z, before the ring in force \(\S+Z\)$/,
    );
    // issued further ahead than the tolerated clock skew
    const future = serializeRing({ ...fourth, issuedAt: t0 + 2 * hour + 3000 + 6 * 60_000 });
    assert.match(
      rejected(state, future, t0 + 2 * hour + 3000),
      /^no usable ring: issued at \S+Z, ahead of this clock by more than 300 s$/,
    );
    // other keys under the very issuedAt of the ring in force
    const forged = serializeRing({ ...fourth, issuedAt: third.issuedAt });
    assert.match(
      rejected(state, forged, t0 + 2 * hour + 3000),
      /other keys under the issuedAt of the ring in force/,
    );
    assert.deepEqual(state.current, third);
    // the same ring again is no change, and the next one is accepted
    assert.deepEqual(state.accept(serializeRing(third), t0 + 2 * hour + 4000), {
      accepted: true,
      ring: third,
      changed: false,
    });
    assert.ok(state.accept(serializeRing(fourth), t0 + 3 * hour + 2000).accepted);
  });

  it("rejects a replayed ring of an older controller (no issuedAt): every key older than the active one", () => {
    const unstamped = (ring: Ring): Ring => ({ keys: ring.keys });
    const state = new RingState();
    assert.ok(state.accept(unstamped(fourth), t0 + 3 * hour + 2000).accepted);
    assert.match(
      rejected(state, serializeRing(unstamped(first)), t0 + 3 * hour + 3000),
      /every key is older than the active key [0-9a-f]{8}/,
    );
    assert.deepEqual(state.current, unstamped(fourth));
    // and a newer controller's ring is taken after it
    assert.ok(state.accept(serializeRing(fourth), t0 + 3 * hour + 4000).accepted);
    // a controller rolled back (rings without issuedAt again): its current ring is taken, an older one is not
    assert.ok(state.accept(serializeRing(unstamped(fourth)), t0 + 3 * hour + 5000).accepted);
    assert.match(
      rejected(state, serializeRing(unstamped(first)), t0 + 3 * hour + 6000),
      /every key is older/,
    );
  });

  it("rejects a ring with no usable active key (every key far in the future)", () => {
    const state = new RingState({ maxClockSkewMs: 60_000 });
    // The first ring starts one interval before t0 (a never-used pad key, then the active key).
    const start = Math.min(...first.keys.map((key) => key.activeFrom));
    assert.match(
      rejected(state, serializeRing(first), start - hour),
      /no usable active key: the first key starts in 3600 s/,
    );
    // Within the tolerated skew the ring is taken (the earliest key serves until its start); its
    // issuedAt (an interval after that start) is then too far ahead of this clock: without it
    // the keys alone are judged.
    assert.ok(state.accept(serializeRing({ keys: first.keys }), start - 30_000).accepted);
    assert.match(
      rejected(new RingState({ maxClockSkewMs: 60_000 }), serializeRing(first), start - 30_000),
      /no usable ring: issued at/,
    );
  });
});
