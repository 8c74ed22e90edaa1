/**
 * The reconcile of one policy as a table: each case is an observed state (the policy, the Secret
 * of its name, the clock) and the exact decision expected of it: the Secret intent to apply (or
 * none), the Ready condition, the events and when to run again.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Secret } from "@kubernetes/client-node";

import {
  managedByLabel,
  managedByValue,
  revokeHandledAnnotation,
  rotateHandledAnnotation,
} from "../../../src/api/names.ts";
import type { PolicyObject, PolicyStatus } from "../../../src/api/policy.ts";
import { conflictRecheckMs, reconcile } from "../../../src/controller/reconcile.ts";
import { hour, minute, seededRandom } from "../core/helpers.ts";
import {
  activeId,
  decision,
  digested,
  intent,
  iso,
  live,
  pending,
  policy,
  reconcileSeed,
  schedule,
  scheduled,
  t0,
  writtenRing,
  type Decision,
} from "./fixtures.ts";

interface Case {
  name: string;
  policy: PolicyObject;
  secret: V1Secret | undefined;
  now: number;
  want: Omit<Decision, "write"> & { write: V1Secret | undefined };
}

const written = writtenRing(t0);
const later = t0 + 20 * minute;
const keysCurrent = (ring: typeof written, now: number, name = "web"): [string, string, string] => [
  "True",
  "KeysCurrent",
  `Secret ${name} holds ${ring.keys.length} keys; active key ${activeId(ring, now)}, next rotation at ${pending(ring, now).at}`,
];
/** What the status says of a ring that is current. */
const current = (ring: typeof written, now: number, name = "web") => ({
  ready: keysCurrent(ring, now, name),
  secretName: name,
  activeKey: activeId(ring, now),
  nextRotationTime: pending(ring, now).at,
});
/** The status the previous reconcile (at t0) wrote for `written`. */
const currentSince: PolicyStatus = {
  observedGeneration: 4,
  secretName: "web",
  activeKey: activeId(written, t0),
  keys: [
    {
      id: activeId(written, t0),
      state: "Active",
      activeFrom: iso(t0),
      activeUntil: iso(t0 + hour),
      expiresAt: iso(t0 + 2 * hour),
    },
  ],
  conditions: [
    {
      type: "Ready",
      status: "True",
      reason: "KeysCurrent",
      message: keysCurrent(written, t0)[2],
      lastTransitionTime: iso(t0),
      observedGeneration: 4,
    },
  ],
};

const generated = scheduled({ previous: undefined, now: t0 });
const generatedLater = scheduled({ previous: undefined, now: later });
const rotatedOnTime = scheduled({ previous: written, now: t0 + hour });
/** A ring written when the interval was 2h: its pending key is published 2h ahead of its start. */
const longRing = writtenRing(t0, { ...schedule, rotationIntervalMs: 2 * hour });
const broughtForward = scheduled({ previous: longRing, now: t0 + 90 * minute, rotate: true });
const revoked = scheduled({ previous: written, now: later, revoke: true });
const purged = scheduled({
  previous: written,
  now: t0 + hour,
  spec: { ...schedule, suspend: true },
});

const regenerated = (why: string) =>
  `Warning RingRegenerated: ${why}: generated a fresh key ring. The previous keys are gone; sessions they protected need a full handshake.`;
const conflict =
  "Secret web exists and is not managed by this policy: it is left untouched. Delete it or set spec.secretName to another name.";
const notOurs: V1Secret = {
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "web", namespace: "shop", resourceVersion: "7" },
  data: { mine: Buffer.from("yes").toString("base64") },
};
const withData = (secret: V1Secret, data: Record<string, string | undefined>): V1Secret => {
  const next = { ...secret.data, ...data };
  for (const [k, v] of Object.entries(next)) if (v === undefined) Reflect.deleteProperty(next, k);
  return { ...secret, data: next as Record<string, string> };
};
/** Nothing to write, nothing to report. */
const unchanged: { write: undefined; events: string[] } = { write: undefined, events: [] };

const cases: Case[] = [
  {
    name: "first creation: a fresh ring, Generated, run again when the pending key starts",
    policy: policy(),
    secret: undefined,
    now: t0,
    want: {
      write: intent(generated.ring, t0),
      ...current(generated.ring, t0),
      since: iso(t0),
      events: [
        `Normal Generated: Generated a key ring in Secret web: active key ${activeId(generated.ring, t0)}`,
      ],
      requeueAt: t0 + hour,
    },
  },
  {
    name: "first creation under spec.secretName with the template; tokens already there are recorded, not acted on",
    policy: policy(
      {
        secretName: "web-keys",
        cipher: "AES128",
        formats: ["nginx", "go"],
        secretTemplate: { labels: { team: "shop" }, annotations: { "example.com/owner": "web" } },
      },
      { annotations: { "ticketkeys.dev/rotate": "r1", "ticketkeys.dev/revoke": "v1" } },
    ),
    secret: undefined,
    now: t0,
    want: {
      write: intent(generated.ring, t0, {
        name: "web-keys",
        cipher: "AES128",
        formats: ["nginx", "go"],
        labels: { team: "shop" },
        annotations: {
          "example.com/owner": "web",
          [rotateHandledAnnotation]: "r1",
          [revokeHandledAnnotation]: "v1",
        },
      }),
      ...current(generated.ring, t0, "web-keys"),
      since: iso(t0),
      events: [
        `Normal Generated: Generated a key ring in Secret web-keys: active key ${activeId(generated.ring, t0)}`,
      ],
      requeueAt: t0 + hour,
    },
  },
  {
    name: "steady state: nothing to write, run again at the next key state change",
    policy: policy({}, { status: currentSince }),
    secret: live(intent(written, t0)),
    now: later,
    want: { ...unchanged, ...current(written, later), since: iso(t0), requeueAt: t0 + hour },
  },
  {
    name: "on schedule: the pending key starts, a new one is published, Rotated",
    policy: policy({}, { status: currentSince }),
    secret: live(intent(written, t0)),
    now: t0 + hour,
    want: {
      write: intent(rotatedOnTime.ring, t0 + hour),
      ...current(rotatedOnTime.ring, t0 + hour),
      since: iso(t0),
      events: [
        `Normal Rotated: Published pending key ${pending(rotatedOnTime.ring, t0 + hour).id}; active key ${activeId(rotatedOnTime.ring, t0 + hour)}`,
      ],
      requeueAt: t0 + 2 * hour,
    },
  },
  {
    name: "rotate token, new: acted on (the pending key comes forward) and recorded",
    policy: policy({}, { annotations: { "ticketkeys.dev/rotate": "r1" } }),
    secret: live(intent(longRing, t0)),
    now: t0 + 90 * minute,
    want: {
      write: intent(broughtForward.ring, t0 + 90 * minute, {
        annotations: { [rotateHandledAnnotation]: "r1" },
      }),
      ...current(broughtForward.ring, t0 + 90 * minute),
      since: iso(t0 + 90 * minute),
      events: [
        `Normal Rotated: Published pending key ${pending(broughtForward.ring, t0 + 90 * minute).id}; active key ${activeId(broughtForward.ring, t0 + 90 * minute)} (rotation requested by annotation)`,
      ],
      requeueAt: t0 + 150 * minute,
    },
  },
  {
    name: "rotate token, seen again: nothing is done",
    policy: policy({}, { annotations: { "ticketkeys.dev/rotate": "r1" } }),
    secret: live(intent(longRing, t0, { annotations: { [rotateHandledAnnotation]: "r1" } })),
    now: t0 + 90 * minute,
    want: {
      ...unchanged,
      ...current(longRing, t0 + 90 * minute),
      since: iso(t0 + 90 * minute),
      requeueAt: t0 + 2 * hour,
    },
  },
  {
    name: "rotate token, new, when the pending key cannot come earlier: only recorded",
    policy: policy({}, { annotations: { "ticketkeys.dev/rotate": "r2" } }),
    secret: live(intent(written, t0, { annotations: { [rotateHandledAnnotation]: "r1" } })),
    now: later,
    want: {
      write: intent(written, later, { annotations: { [rotateHandledAnnotation]: "r2" } }),
      ...current(written, later),
      since: iso(later),
      events: [],
      requeueAt: t0 + hour,
    },
  },
  {
    name: "revoke token, new: every key replaced, Revoked, recorded",
    policy: policy({}, { annotations: { "ticketkeys.dev/revoke": "incident-42" }, status: currentSince }),
    secret: live(intent(written, t0)),
    now: later,
    want: {
      write: intent(revoked.ring, later, { annotations: { [revokeHandledAnnotation]: "incident-42" } }),
      ...current(revoked.ring, later),
      since: iso(t0),
      events: [
        `Normal Revoked: Revoked every key as requested by ticketkeys.dev/revoke: new active key ${activeId(revoked.ring, later)}. Existing sessions need a full handshake.`,
      ],
      requeueAt: later + hour,
    },
  },
  {
    name: "revoke token, seen again: nothing is done",
    policy: policy({}, { annotations: { "ticketkeys.dev/revoke": "incident-42" }, status: currentSince }),
    secret: live(intent(written, t0, { annotations: { [revokeHandledAnnotation]: "incident-42" } })),
    now: later,
    want: { ...unchanged, ...current(written, later), since: iso(t0), requeueAt: t0 + hour },
  },
  {
    name: "Secret conflict: a Secret of that name without the operator's label is never modified",
    policy: policy({}, { status: currentSince }),
    secret: notOurs,
    now: later,
    want: {
      write: undefined,
      ready: ["False", "SecretConflict", conflict],
      since: iso(later),
      secretName: "web",
      activeKey: activeId(written, t0),
      nextRotationTime: undefined,
      events: [`Warning SecretConflict: ${conflict}`],
      requeueAt: later + conflictRecheckMs,
    },
  },
  {
    name: "Secret conflict: labelled, but owned by another policy of that name (another uid)",
    policy: policy(),
    secret: live({
      ...intent(written, t0),
      metadata: {
        ...intent(written, t0).metadata,
        ownerReferences: [
          {
            apiVersion: "ticketkeys.dev/v1alpha1",
            kind: "TicketKeyPolicy",
            name: "web",
            uid: "old",
            controller: true,
          },
        ],
      },
    }),
    now: later,
    want: {
      write: undefined,
      ready: ["False", "SecretConflict", conflict],
      since: iso(later),
      secretName: "web",
      activeKey: undefined,
      nextRotationTime: undefined,
      events: [`Warning SecretConflict: ${conflict}`],
      requeueAt: later + conflictRecheckMs,
    },
  },
  {
    name: "Secret conflict, already reported: no second event, the condition keeps its time",
    policy: policy(
      {},
      {
        status: {
          secretName: "web",
          conditions: [
            {
              type: "Ready",
              status: "False",
              reason: "SecretConflict",
              message: conflict,
              lastTransitionTime: iso(t0),
            },
          ],
        },
      },
    ),
    secret: notOurs,
    now: later,
    want: {
      write: undefined,
      ready: ["False", "SecretConflict", conflict],
      since: iso(t0),
      secretName: "web",
      activeKey: undefined,
      nextRotationTime: undefined,
      events: [],
      requeueAt: later + conflictRecheckMs,
    },
  },
  {
    name: "deleted Secret: a fresh ring, RingRegenerated (not Generated)",
    policy: policy({}, { status: currentSince }),
    secret: undefined,
    now: later,
    want: {
      write: intent(generatedLater.ring, later),
      ...current(generatedLater.ring, later),
      since: iso(t0),
      events: [regenerated("Secret web was deleted")],
      requeueAt: later + hour,
    },
  },
  {
    name: "broken ring.json: a fresh ring, RingRegenerated saying it is invalid",
    policy: policy({}, { status: currentSince }),
    secret: live(
      withData(intent(written, t0), { "ring.json": Buffer.from('{"version":1,"keys":[').toString("base64") }),
    ),
    now: later,
    want: {
      write: intent(generatedLater.ring, later),
      ...current(generatedLater.ring, later),
      since: iso(t0),
      events: [regenerated("ring.json in Secret web is invalid (invalid ring.json: not valid UTF-8 JSON)")],
      requeueAt: later + hour,
    },
  },
  {
    name: "no ring.json in an owned Secret: a fresh ring, RingRegenerated",
    policy: policy(),
    secret: live(withData(intent(written, t0), { "ring.json": undefined })),
    now: later,
    want: {
      write: intent(generatedLater.ring, later),
      ...current(generatedLater.ring, later),
      since: iso(later),
      events: [regenerated("ring.json in Secret web is invalid (the Secret has no ring.json)")],
      requeueAt: later + hour,
    },
  },
  {
    name: "drift: a rendering edited by hand is restored from ring.json, SecretRestored",
    policy: policy({}, { status: currentSince }),
    secret: live(withData(intent(written, t0), { "nginx-0.key": Buffer.alloc(80).toString("base64") })),
    now: later,
    want: {
      write: intent(written, later),
      ...current(written, later),
      since: iso(t0),
      events: [
        "Warning SecretRestored: Secret web was modified outside the operator: restored its renderings from ring.json.",
      ],
      requeueAt: t0 + hour,
    },
  },
  {
    name: "drift of metadata only (the policy label removed): rewritten without a warning",
    policy: policy({}, { status: currentSince }),
    secret: live({
      ...intent(written, t0),
      metadata: { ...intent(written, t0).metadata, labels: { [managedByLabel]: managedByValue } },
    }),
    now: later,
    want: {
      write: intent(written, later),
      ...current(written, later),
      since: iso(t0),
      events: [],
      requeueAt: t0 + hour,
    },
  },
  {
    name: "suspend: no rotation ahead, Suspended, no next rotation time",
    policy: policy({ suspend: true }, { status: currentSince }),
    secret: live(intent(written, t0)),
    now: later,
    want: {
      ...unchanged,
      ready: [
        "True",
        "Suspended",
        `Rotation is suspended; active key ${activeId(written, later)} keeps encrypting. Expired keys are still purged.`,
      ],
      since: iso(t0),
      secretName: "web",
      activeKey: activeId(written, later),
      nextRotationTime: undefined,
      requeueAt: t0 + hour,
    },
  },
  {
    name: "suspend: past the pending key's start, the expired key is purged and nothing rotates",
    policy: policy({ suspend: true }, { status: currentSince }),
    secret: live(intent(written, t0)),
    now: t0 + hour,
    want: {
      write: intent(purged.ring, t0 + hour),
      ready: [
        "True",
        "Suspended",
        `Rotation is suspended; active key ${activeId(purged.ring, t0 + hour)} keeps encrypting. Expired keys are still purged.`,
      ],
      since: iso(t0),
      secretName: "web",
      activeKey: activeId(written, t0 + hour),
      nextRotationTime: undefined,
      events: [],
      requeueAt: t0 + 2 * hour,
    },
  },
  {
    name: "invalid spec: InvalidSpec names the field, the Secret is left alone, no wake-up",
    policy: policy({ rotationInterval: "5s" }, { status: currentSince }),
    secret: live(intent(written, t0)),
    now: later,
    want: {
      write: undefined,
      ready: ["False", "InvalidSpec", "spec.rotationInterval: must be between 10s and 168h, got 5s"],
      since: iso(later),
      secretName: "web",
      activeKey: activeId(written, t0),
      nextRotationTime: undefined,
      events: ["Warning InvalidSpec: spec.rotationInterval: must be between 10s and 168h, got 5s"],
      requeueAt: undefined,
    },
  },
  {
    name: "invalid spec: a reserved label in the template",
    policy: policy({ secretTemplate: { labels: { "ticketkeys.dev/policy": "x" } } }),
    secret: undefined,
    now: later,
    want: {
      write: undefined,
      ready: [
        "False",
        "InvalidSpec",
        "spec.secretTemplate.labels.ticketkeys.dev/policy: is reserved for the operator",
      ],
      since: iso(later),
      secretName: undefined,
      activeKey: undefined,
      nextRotationTime: undefined,
      events: [
        "Warning InvalidSpec: spec.secretTemplate.labels.ticketkeys.dev/policy: is reserved for the operator",
      ],
      requeueAt: undefined,
    },
  },
];

describe("reconcile", () => {
  for (const c of cases) {
    it(c.name, () => {
      const observed = {
        policy: c.policy,
        secret: c.secret,
        now: c.now,
        random: seededRandom(reconcileSeed),
      };
      const before = structuredClone({ policy: c.policy, secret: c.secret });
      const got = decision(reconcile(observed));
      assert.deepEqual(got, { ...c.want, write: digested(c.want.write) });
      assert.deepEqual({ policy: c.policy, secret: c.secret }, before, "the observed state is not modified");
    });
  }

  it("is a function of its input: the same observed state and random bytes give the same outcome", () => {
    for (const c of cases) {
      const run = () =>
        decision(
          reconcile({ policy: c.policy, secret: c.secret, now: c.now, random: seededRandom(reconcileSeed) }),
        );
      assert.deepEqual(run(), run(), c.name);
    }
  });
});
