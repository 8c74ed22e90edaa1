/**
 * The controller is the only author of ring.json (docs/design.md#invariants): with the ring it
 * wrote in hand, a deleted Secret, an invalid ring.json, a replayed older ring or one edited
 * under the same issuedAt is replaced by that ring (RingRestored), never trusted and never
 * regenerated; a ring issued later (another replica's) is the current one.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Secret } from "@kubernetes/client-node";
import { revokeAnnotation, revokeHandledAnnotation, ringDataKey } from "../../../src/api/names.ts";
import { parseRing, serializeRing, type Ring } from "../../../src/core/index.ts";
import { reconcile, type HeldRing } from "../../../src/controller/reconcile.ts";
import { minute, seededRandom } from "../core/helpers.ts";
import { intent, live, policy, reconcileSeed, t0, writtenRing } from "./fixtures.ts";

const written = writtenRing(t0);
const now = t0 + 20 * minute;
const held: HeldRing = { secretName: "web", ring: written, handled: {} };
const secretOf = (ring: Ring): V1Secret => live(intent(ring, t0));

function run(
  secret: V1Secret | undefined,
  options: { held?: HeldRing; annotations?: Record<string, string> } = {},
) {
  const outcome = reconcile({
    policy: policy({}, { ...(options.annotations ? { annotations: options.annotations } : {}) }),
    secret,
    held: options.held ?? held,
    now,
    random: seededRandom(reconcileSeed),
  });
  const ringJson = outcome.secret?.data?.[ringDataKey];
  return {
    outcome,
    events: outcome.events.map((e) => `${e.type} ${e.reason}: ${e.message}`),
    ring: ringJson === undefined ? undefined : serializeRing(parseRing(Buffer.from(ringJson, "base64"))),
  };
}

const restoredMessage = (why: string): string =>
  `Warning RingRestored: ${why}: restored the key ring the operator wrote. Only the operator writes ring.json; use the ticketkeys.dev/revoke annotation to replace keys.`;

describe("reconcile with the ring the controller holds", () => {
  it("a deleted Secret is re-created with the held ring, not a fresh one", () => {
    const { events, ring, outcome } = run(undefined);
    assert.deepEqual(events, [restoredMessage("Secret web was deleted")]);
    assert.equal(ring, serializeRing(written));
    assert.equal(serializeRing(outcome.held!.ring), serializeRing(written));
  });

  it("a revoke token handled before the Secret was deleted is not acted on again", () => {
    const token = { [revokeAnnotation]: "incident-7" };
    const { events, ring, outcome } = run(undefined, {
      held: { secretName: "web", ring: written, handled: { [revokeHandledAnnotation]: "incident-7" } },
      annotations: token,
    });
    assert.deepEqual(events, [restoredMessage("Secret web was deleted")]);
    assert.equal(ring, serializeRing(written), "no revoke");
    assert.equal(outcome.secret?.metadata?.annotations?.[revokeHandledAnnotation], "incident-7");
  });

  it("an invalid ring.json is replaced by the held ring", () => {
    const broken = secretOf(written);
    broken.data = { ...broken.data, [ringDataKey]: Buffer.from("{").toString("base64") };
    const { events, ring } = run(broken);
    assert.deepEqual(events, [
      restoredMessage("ring.json in Secret web is invalid (invalid ring.json: not valid UTF-8 JSON)"),
    ]);
    assert.equal(ring, serializeRing(written));
  });

  it("an older ring put back (a restored backup, a pre-revoke copy) is replaced by the held ring", () => {
    const older = writtenRing(t0 - 30 * minute);
    const { events, ring } = run(secretOf(older));
    assert.equal(events.length, 1);
    assert.match(
      events[0]!,
      /^Warning RingRestored: ring\.json in Secret web was replaced by a ring issued at \S+Z, before the operator's \(\S+Z\): restored/,
    );
    assert.equal(ring, serializeRing(written));
  });

  it("a ring without issuedAt, or other seeds under the held ring's issuedAt, is replaced by the held ring", () => {
    const unstamped = run(secretOf({ keys: written.keys }));
    assert.match(unstamped.events[0]!, /was replaced by a ring without issuedAt/);
    assert.equal(unstamped.ring, serializeRing(written));
    const reseeded: Ring = {
      ...written,
      keys: written.keys.map((k) => ({ ...k, seed: Buffer.alloc(32, 5) })),
    };
    const edited = run(secretOf(reseeded));
    assert.match(edited.events[0]!, /was edited: other keys or instants under the operator's issuedAt/);
    assert.equal(edited.ring, serializeRing(written));
  });

  it("a ring issued after the held one (another replica led meanwhile) is the current ring", () => {
    const newer: Ring = { ...written, issuedAt: written.issuedAt! + 1000 };
    const { events, outcome } = run(secretOf(newer));
    assert.deepEqual(events, []);
    assert.equal(outcome.secret, undefined, "nothing to write");
    assert.equal(serializeRing(outcome.held!.ring), serializeRing(newer));
  });

  it("without a held ring (a new leader), the Secret's ring is trusted", () => {
    const older = writtenRing(t0 - 30 * minute);
    const trusted = reconcile({
      policy: policy(),
      secret: secretOf(older),
      now,
      random: seededRandom(reconcileSeed),
    });
    assert.ok(!trusted.events.some((e) => e.reason === "RingRestored"));
    assert.equal(serializeRing(trusted.held!.ring), serializeRing(older));
  });

  it("a changed spec.secretName starts the new Secret with a first ring, not the held one", () => {
    const outcome = reconcile({
      policy: policy({ secretName: "web-v2" }, { status: { secretName: "web", keys: [] } }),
      secret: undefined,
      held,
      now,
      random: seededRandom(reconcileSeed),
    });
    assert.deepEqual(
      outcome.events.map((e) => e.reason),
      ["Generated"],
    );
    const ring = parseRing(Buffer.from(outcome.secret!.data![ringDataKey]!, "base64"));
    assert.ok(!ring.keys.some((k) => written.keys.some((w) => w.name.equals(k.name))), "new keys");
  });
});

describe("reconcile with nothing held (after a start or a change of leader)", () => {
  const watermarked = (ring: Ring) =>
    policy(
      {},
      { status: { secretName: "web", ringIssuedAt: new Date(ring.issuedAt!).toISOString(), keys: [] } },
    );
  const fresh = (secret: V1Secret | undefined, status: Ring, at = now) =>
    reconcile({ policy: watermarked(status), secret, now: at, random: seededRandom(reconcileSeed) });

  it("a ring issued before status.ringIssuedAt (a copy put back meanwhile) is not continued from", () => {
    const older = writtenRing(t0 - 30 * minute);
    const outcome = fresh(secretOf(older), written);
    assert.equal(outcome.events.length, 1);
    assert.match(
      outcome.events[0]!.message,
      /^ring\.json in Secret web was replaced by a ring issued at \S+Z, before the last one the operator wrote \(\S+Z\): generated a fresh key ring/,
    );
    const ring = parseRing(Buffer.from(outcome.secret!.data![ringDataKey]!, "base64"));
    assert.ok(
      !ring.keys.some((k) => older.keys.some((o) => o.name.equals(k.name))),
      "none of the replayed keys",
    );
    assert.ok(ring.issuedAt! > written.issuedAt!, "issued after the watermark");
    assert.equal(
      outcome.status.ringIssuedAt,
      new Date(ring.issuedAt!).toISOString(),
      "the watermark moves on",
    );
  });

  it("a fresh ring after a deletion is issued after the watermark, even with this clock behind it", () => {
    const behind = written.issuedAt! - 2 * minute;
    const outcome = fresh(undefined, written, behind);
    const ring = parseRing(Buffer.from(outcome.secret!.data![ringDataKey]!, "base64"));
    assert.equal(ring.issuedAt, written.issuedAt! + 1, "consumers holding the last ring take it");
  });

  it("a ring issued further ahead than any clock skew is not continued from", () => {
    const ahead: Ring = { ...written, issuedAt: now + 6 * minute };
    const outcome = fresh(secretOf(ahead), written);
    assert.match(outcome.events[0]!.message, /ahead of this clock by more than any skew/);
  });

  it("a name longer than 63 characters (admitted before the CRD's rule) is InvalidSpec", () => {
    const long = policy();
    long.metadata.name = "n".repeat(64);
    const outcome = reconcile({ policy: long, secret: undefined, now, random: seededRandom(reconcileSeed) });
    const ready = outcome.status.conditions?.find((c) => c.type === "Ready");
    assert.ok(ready);
    assert.equal(ready.reason, "InvalidSpec");
    assert.match(ready.message, /^metadata\.name: must be at most 63 characters/);
    assert.equal(outcome.secret, undefined);
  });
});
