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
const held: HeldRing = { ring: written, handled: {} };
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
      held: { ring: written, handled: { [revokeHandledAnnotation]: "incident-7" } },
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
});
