/**
 * The controller against the real control plane, in real time, with the real process.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { revokeHandledAnnotation, ringDataKey } from "../../src/api/names.ts";
import { activeKey, keyId, keyState, parseRing, serializeRing } from "../../src/core/ring.ts";
import { adminConfig, tempNamespace, waitUntil } from "../../harness/cluster/kube.ts";
import {
  eventsFor,
  installCrd,
  metricsAddress,
  policies,
  readyCondition,
  startController,
  waitForCondition,
  type OperatorProcess,
} from "../../harness/operator/operator.ts";
import {
  findLeaks,
  leakNeedles,
  recordSecret,
  type SecretHistory,
} from "../../harness/operator/secret-history.ts";

const kc = adminConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const api = policies(kc);
const interval = 10_000;

describe("controller", { concurrency: true }, () => {
  let ns: Awaited<ReturnType<typeof tempNamespace>>;
  let controller: OperatorProcess;
  const histories: SecretHistory[] = [];

  before(async () => {
    await installCrd(kc);
    ns = await tempNamespace(kc, "controller");
    controller = startController(ns.name);
  });

  after(async () => {
    await controller.stop();
    const statuses = (await api.list(ns.name)).map((p) => JSON.stringify(p.status ?? {}));
    const events = (await eventsFor(kc, ns.name)).map((e) => `${e.reason ?? ""} ${e.message ?? ""}`);
    const needles = leakNeedles(histories.flatMap((h) => h.secrets()));
    for (const h of histories) h.stop();
    await ns.remove();
    const leaks = findLeaks([...controller.lines, ...statuses, ...events], needles);
    console.log(
      `# leak scan: ${controller.lines.length} log lines, ${events.length} events, ${statuses.length} statuses against ${needles.length} encodings of key material: ${leaks.length} leaks`,
    );
    assert.deepEqual(leaks, [], "key material appeared in logs, events or status");
  });

  it("writes a Secret with every rendering and keeps the schedule's invariants through 5 rotations", async () => {
    const history = await recordSecret(kc, ns.name, "web-keys");
    histories.push(history);
    await api.create(ns.name, "web", {
      secretName: "web-keys",
      rotationInterval: "10s",
      retiredKeys: 2,
      cipher: "AES256",
    });
    const ready = await waitForCondition(kc, ns.name, "web", { status: "True" });
    assert.equal(ready.status?.secretName, "web-keys");
    const secret = await core.readNamespacedSecret({ name: "web-keys", namespace: ns.name });
    assert.equal(secret.type, "ticketkeys.dev/key-ring");
    assert.equal(secret.metadata?.labels?.["app.kubernetes.io/managed-by"], "ticket-key-operator");
    assert.equal(secret.metadata.labels["ticketkeys.dev/policy"], "web");
    assert.equal(secret.metadata.ownerReferences?.[0]?.uid, ready.metadata.uid);
    assert.ok(
      secret.metadata.managedFields?.some(
        (f) => f.manager === "ticket-key-operator" && f.operation === "Apply",
      ),
    );
    const keys = Object.keys(secret.data ?? {}).sort();
    assert.deepEqual(keys, [
      "ats.keys",
      "envoy-sds.yaml",
      "go.keys",
      "haproxy.keys",
      "nginx-0.key",
      "nginx-1.key",
      "nginx-2.key",
      "nginx-3.key",
      "node.key",
      "ring.json",
    ]);

    // Watch 5 rotations happen in real time.
    await waitUntil(
      "5 rotations",
      () =>
        Promise.resolve(
          new Set(history.versions.flatMap((v) => v.ring?.keys.map((k) => keyId(k)) ?? [])).size >= 4 + 5,
        ),
      (5 + 2) * interval + 10_000,
      200,
    );
    const rings = history.versions.filter((v) => v.ring !== undefined);
    const firstSeen = new Map<string, number>();
    for (const v of rings) {
      const ring = v.ring!;
      for (const k of ring.keys) if (!firstSeen.has(keyId(k))) firstSeen.set(keyId(k), v.seenAt);
      // constant size, exactly one active and one pending when it arrived
      assert.equal(ring.keys.length, 2 + 2);
      const states = ring.keys.map((k) => keyState(ring, k, v.seenAt));
      assert.equal(
        states.filter((s) => s === "active").length,
        1,
        `one active key at ${new Date(v.seenAt).toISOString()}`,
      );
      // One pending key, except in the instant between a pending key's activation and the
      // rotation that publishes the next one (the reconcile's latency).
      const started = ring.keys.at(-1)!.activeFrom <= v.seenAt;
      assert.equal(states.filter((s) => s === "pending").length, started ? 0 : 1);
      if (started)
        assert.ok(v.seenAt - ring.keys.at(-1)!.activeFrom < 1000, "rotation within 1 s of its instant");
      // expired keys gone within a reconcile's latency of their expiry
      for (const k of ring.keys) assert.ok(k.expiresAt > v.seenAt - 1500, `key ${keyId(k)} kept past expiry`);
      // the nginx slot 0 is the active key
      assert.deepEqual(v.data["nginx-0.key"]?.subarray(0, 16), activeKey(ring, v.seenAt)?.name);
    }
    const last = rings.at(-1)!.ring!;
    const starts = last.keys.map((k) => k.activeFrom);
    for (let i = 1; i < last.keys.length; i++) {
      assert.equal(
        last.keys[i - 1]!.activeUntil,
        last.keys[i]!.activeFrom,
        "activeUntil is the next key's activeFrom",
      );
    }
    // rotations on schedule: consecutive activations one interval apart (plus reconcile latency)
    const rotations = rings
      .map((v) => activeKey(v.ring!, v.seenAt)!.activeFrom)
      .filter((t, i, a) => i === 0 || t !== a[i - 1]);
    const gaps = rotations.slice(1).map((t, i) => t - rotations[i]!);
    console.log(
      `# rotation gaps (ms): ${gaps.join(", ")}; last ring starts ${starts.map((t) => new Date(t).toISOString()).join(" ")}`,
    );
    for (const gap of gaps.slice(1))
      assert.ok(gap >= interval && gap < interval + 1500, `rotation gap ${gap} ms`);
    // every key was published at least one interval before it became active (watch latency aside)
    for (const v of rings) {
      for (const k of v.ring!.keys) {
        const seen = firstSeen.get(keyId(k))!;
        if (k.activeFrom > rings[0]!.seenAt + interval) {
          assert.ok(
            k.activeFrom - seen >= interval - 1000,
            `key ${keyId(k)} published ${k.activeFrom - seen} ms before activation`,
          );
        }
      }
    }
    // The controller records the event after writing the Secret (and the status): the last
    // rotation's event may follow the Secret the watch already delivered.
    const events = await waitUntil("an event for each rotation", async () => {
      const all = await eventsFor(kc, ns.name, "web");
      return all.filter((e) => e.reason === "Rotated").length >= 5 ? all : undefined;
    });
    assert.ok(events.some((e) => e.reason === "Generated"));
  });

  it("reports an invalid spec that the CRD accepts, naming the field, and leaves the Secret alone", async () => {
    // Within the CRD's pattern and range, but not a whole number of milliseconds: the CRD (and its
    // CEL rules) admit it, the controller does not.
    await api.create(ns.name, "bad", { rotationInterval: "10.0001s" });
    const bad = await waitForCondition(kc, ns.name, "bad", { status: "False", reason: "InvalidSpec" });
    assert.match(
      readyCondition(bad)?.message ?? "",
      /spec\.rotationInterval: .*not a whole number of milliseconds/,
    );
    await assert.rejects(
      core.readNamespacedSecret({ name: "bad", namespace: ns.name }),
      (e: unknown) => e instanceof k8s.ApiException && e.code === 404,
    );

    await api.create(ns.name, "later-bad", { rotationInterval: "1h" });
    await waitForCondition(kc, ns.name, "later-bad", { status: "True" });
    const before = await core.readNamespacedSecret({ name: "later-bad", namespace: ns.name });
    // what the CRD's rules refuse never reaches the controller
    await assert.rejects(
      api.patch(ns.name, "later-bad", {
        spec: { secretTemplate: { labels: { "ticketkeys.dev/policy": "x" } } },
      }),
      (e: unknown) => e instanceof k8s.ApiException && e.code === 422,
    );
    await api.patch(ns.name, "later-bad", { spec: { rotationInterval: "1h0.0001s" } });
    const p = await waitForCondition(kc, ns.name, "later-bad", { status: "False", reason: "InvalidSpec" });
    assert.match(readyCondition(p)?.message ?? "", /spec\.rotationInterval/);
    const afterSecret = await core.readNamespacedSecret({ name: "later-bad", namespace: ns.name });
    assert.equal(afterSecret.metadata?.resourceVersion, before.metadata?.resourceVersion);
    assert.ok(
      (await eventsFor(kc, ns.name, "bad")).some((e) => e.reason === "InvalidSpec" && e.type === "Warning"),
    );
  });

  it("never touches a Secret it does not own", async () => {
    await core.createNamespacedSecret({
      namespace: ns.name,
      body: { metadata: { name: "taken" }, stringData: { mine: "yes" } },
    });
    await api.create(ns.name, "conflict", { secretName: "taken" });
    const p = await waitForCondition(kc, ns.name, "conflict", { status: "False", reason: "SecretConflict" });
    assert.match(readyCondition(p)?.message ?? "", /taken/);
    const s = await core.readNamespacedSecret({ name: "taken", namespace: ns.name });
    assert.deepEqual(Object.keys(s.data ?? {}), ["mine"]);
    assert.equal(s.metadata?.ownerReferences, undefined);
    // Once the other Secret is gone, the policy takes the name (within its recheck period).
    await core.deleteNamespacedSecret({ name: "taken", namespace: ns.name });
    await waitForCondition(kc, ns.name, "conflict", { status: "True" }, 45_000);
  });

  it("restores a hand-edited rendering, a deleted Secret and a broken, replayed or re-seeded ring.json from the ring it holds, with Warning events", async () => {
    await api.create(ns.name, "drift", { rotationInterval: "1h" });
    await waitForCondition(kc, ns.name, "drift", { status: "True" });
    const original = await core.readNamespacedSecret({ name: "drift", namespace: ns.name });
    const ringBefore = original.data?.[ringDataKey];

    // edited rendering -> restored from ring.json, same keys
    await core.patchNamespacedSecret(
      {
        name: "drift",
        namespace: ns.name,
        body: { data: { "nginx-0.key": Buffer.alloc(80).toString("base64") } },
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    await waitUntil("the rendering to be restored", async () => {
      const s = await core.readNamespacedSecret({ name: "drift", namespace: ns.name });
      return s.data?.["nginx-0.key"] === original.data?.["nginx-0.key"];
    });
    await waitUntil("a SecretRestored warning", async () =>
      (await eventsFor(kc, ns.name, "drift")).some(
        (e) => e.reason === "SecretRestored" && e.type === "Warning",
      ),
    );

    const ringJson = async (): Promise<string | undefined> =>
      (await core.readNamespacedSecret({ name: "drift", namespace: ns.name }).catch(() => undefined))?.data?.[
        ringDataKey
      ];
    const restored = async (what: string, message: RegExp): Promise<void> => {
      await waitUntil(`ring.json restored after ${what}`, async () => (await ringJson()) === ringBefore);
      await waitUntil(`a RingRestored warning for ${what}`, async () =>
        (await eventsFor(kc, ns.name, "drift")).some(
          (e) => e.reason === "RingRestored" && e.type === "Warning" && message.test(e.message ?? ""),
        ),
      );
    };
    const patchRing = (text: string) =>
      core.patchNamespacedSecret(
        {
          name: "drift",
          namespace: ns.name,
          body: { data: { [ringDataKey]: Buffer.from(text).toString("base64") } },
        },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      );

    // deleted -> re-created with the same ring: the keys live on, nothing is regenerated
    await core.deleteNamespacedSecret({ name: "drift", namespace: ns.name });
    await restored("the deletion", /Secret drift was deleted/);
    // ring.json that does not parse -> the ring the operator holds
    await patchRing('{"version":1,"keys":[');
    await restored("a broken ring.json", /is invalid/);
    // a valid ring with the same key names and other seeds (what library consumers reject)
    const ring = parseRing(Buffer.from(ringBefore!, "base64"));
    await patchRing(
      serializeRing({ ...ring, keys: ring.keys.map((key) => ({ ...key, seed: randomBytes(32) })) }),
    );
    await restored(
      "a re-seeded ring.json",
      /was edited: other keys or instants under the operator's issuedAt/,
    );
    // an older ring put back (a backup, a GitOps re-apply)
    await patchRing(serializeRing({ ...ring, issuedAt: ring.issuedAt! - 60_000 }));
    await restored("a replayed ring.json", /was replaced by a ring issued at \S+Z, before the operator's/);
    const warnings = (await eventsFor(kc, ns.name, "drift")).filter((e) => e.reason === "RingRegenerated");
    assert.deepEqual(warnings, [], "no ring was regenerated");
    assert.equal(controller.child.exitCode, null, "the controller is still running");
  });

  it("says so in the status, an event and a metric when the API refuses the Secret write, and recovers", async () => {
    // A ValidatingAdmissionPolicy refusing writes of this one Secret (as a webhook or quota would)
    const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
    const vapName = `tko-freeze-${ns.name}`;
    await admission.createValidatingAdmissionPolicy({
      body: {
        metadata: { name: vapName },
        spec: {
          failurePolicy: "Fail",
          matchConstraints: {
            resourceRules: [
              {
                apiGroups: [""],
                apiVersions: ["v1"],
                operations: ["CREATE", "UPDATE"],
                resources: ["secrets"],
              },
            ],
          },
          matchConditions: [{ name: "this-secret", expression: `object.metadata.name == "frozen-keys"` }],
          validations: [{ expression: "false", message: "secrets are frozen for the change window" }],
        },
      },
    });
    await admission.createValidatingAdmissionPolicyBinding({
      body: {
        metadata: { name: vapName },
        spec: {
          policyName: vapName,
          validationActions: ["Deny"],
          matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns.name } } },
        },
      },
    });
    try {
      // the policy engine takes a moment to load a new binding: wait until it refuses
      await waitUntil("the admission policy to refuse", async () =>
        core.createNamespacedSecret({ namespace: ns.name, body: { metadata: { name: "frozen-keys" } } }).then(
          async () => {
            await core.deleteNamespacedSecret({ name: "frozen-keys", namespace: ns.name });
            return false;
          },
          () => true,
        ),
      );
      await api.create(ns.name, "frozen", { secretName: "frozen-keys" });
      const failed = await waitForCondition(kc, ns.name, "frozen", {
        status: "False",
        reason: "SecretWriteFailed",
      });
      const message = readyCondition(failed)?.message ?? "";
      console.log(`# Ready=False SecretWriteFailed: ${message}`);
      assert.match(
        message,
        /^writing Secret frozen-keys failed: HTTP 422 Invalid: .*secrets are frozen for the change window\. The keys it holds stay in force; retrying\.$/,
      );
      const metrics = await fetch(`http://${metricsAddress(controller)}/metrics`).then((r) => r.text());
      const counted = new RegExp(
        `^ticketkeys_secret_write_failures_total\\{namespace="${ns.name}",policy="frozen"\\} ([0-9]+)$`,
        "m",
      ).exec(metrics);
      assert.ok(Number(counted?.[1] ?? 0) >= 1, "ticketkeys_secret_write_failures_total counts it");
      await waitUntil("a SecretWriteFailed warning", async () =>
        (await eventsFor(kc, ns.name, "frozen")).some(
          (e) => e.reason === "SecretWriteFailed" && e.type === "Warning",
        ),
      );
    } finally {
      await admission.deleteValidatingAdmissionPolicyBinding({ name: vapName });
      await admission.deleteValidatingAdmissionPolicy({ name: vapName });
    }
    // the write goes through at a retry (backoff), and the policy is Ready again
    await waitForCondition(kc, ns.name, "frozen", { status: "True", reason: "KeysCurrent" }, 60_000);
  });

  it("a changed spec.secretName: the new Secret gets the keys, the old one is emptied and says where they went", async () => {
    await api.create(ns.name, "moving", { secretName: "moving-a", rotationInterval: "1h" });
    await waitForCondition(kc, ns.name, "moving", { status: "True" });
    await api.patch(ns.name, "moving", { spec: { secretName: "moving-b" } });
    const moved = await waitUntil("status to name the new Secret", async () => {
      const p = await api.get(ns.name, "moving");
      return p.status?.secretName === "moving-b" && readyCondition(p)?.status === "True" ? p : undefined;
    });
    const fresh = await core.readNamespacedSecret({ name: "moving-b", namespace: ns.name });
    assert.ok(fresh.data?.[ringDataKey], "the new Secret holds a ring");
    const old = await core.readNamespacedSecret({ name: "moving-a", namespace: ns.name });
    assert.deepEqual(Object.keys(old.data ?? {}), [], "the old Secret holds no keys");
    assert.equal(old.metadata?.annotations?.["ticketkeys.dev/superseded-by"], "moving-b");
    const events = (await eventsFor(kc, ns.name, "moving")).map(
      (e) => `${e.reason ?? ""}: ${e.message ?? ""}`,
    );
    assert.ok(
      events.some((e) =>
        /^SecretSuperseded: spec\.secretName is now moving-b: Secret moving-a no longer holds keys/.test(e),
      ),
      events.join("\n"),
    );
    assert.ok(!events.some((e) => /was deleted/.test(e)), "no event says a Secret was deleted");
    assert.equal(moved.status?.secretName, "moving-b");
  });

  it("a label or annotation removed from secretTemplate is removed from the Secret", async () => {
    await api.create(ns.name, "labelled", {
      secretTemplate: { labels: { team: "web", tier: "edge" }, annotations: { "example.com/owner": "web" } },
    });
    await waitForCondition(kc, ns.name, "labelled", { status: "True" });
    const secret = () => core.readNamespacedSecret({ name: "labelled", namespace: ns.name });
    assert.equal((await secret()).metadata?.labels?.["team"], "web");
    // (a merge patch removes a key by setting it to null)
    await api.patch(ns.name, "labelled", {
      spec: { secretTemplate: { labels: { team: null }, annotations: null } },
    });
    const after = await waitUntil("the removed label and annotation to be gone", async () => {
      const s = await secret();
      return s.metadata?.labels?.["team"] === undefined &&
        s.metadata?.annotations?.["example.com/owner"] === undefined
        ? s
        : undefined;
    });
    assert.equal(after.metadata?.labels?.["tier"], "edge", "the label still in the template stays");
    assert.ok(after.data?.[ringDataKey], "the keys are untouched");
  });

  it("revokes every key when the revoke annotation changes", async () => {
    await api.create(ns.name, "revoke-me", { rotationInterval: "1h" });
    const ready = await waitForCondition(kc, ns.name, "revoke-me", { status: "True" });
    const before = new Set(ready.status?.keys?.map((k) => k.id));
    await api.patch(ns.name, "revoke-me", {
      metadata: { annotations: { "ticketkeys.dev/revoke": "incident-42" } },
    });
    const after = await waitUntil("new keys", async () => {
      const p = await api.get(ns.name, "revoke-me");
      const ids = p.status?.keys?.map((k) => k.id) ?? [];
      return ids.length > 0 && ids.every((id) => !before.has(id)) ? p : undefined;
    });
    assert.equal(after.status?.keys?.length, 3);
    assert.ok((await eventsFor(kc, ns.name, "revoke-me")).some((e) => e.reason === "Revoked"));
    // The token is acted on once: a later reconcile of the policy, which still carries it, keeps
    // the ring. A label added to the Secret's template shows when that reconcile has written.
    const secret = await core.readNamespacedSecret({ name: "revoke-me", namespace: ns.name });
    const relabelled = await api.patch(ns.name, "revoke-me", {
      spec: { secretTemplate: { labels: { "example.com/after-revoke": "yes" } } },
    });
    const again = await waitUntil("the reconcile of the relabelled policy", async () => {
      const p = await api.get(ns.name, "revoke-me");
      const s = await core.readNamespacedSecret({ name: "revoke-me", namespace: ns.name });
      return p.status?.observedGeneration === relabelled.metadata.generation &&
        s.metadata?.labels?.["example.com/after-revoke"] === "yes"
        ? s
        : undefined;
    });
    assert.equal(again.metadata?.annotations?.[revokeHandledAnnotation], "incident-42");
    assert.equal(again.data?.[ringDataKey], secret.data?.[ringDataKey], "the ring is the revoked one");
    const revoked = (await eventsFor(kc, ns.name, "revoke-me")).filter((e) => e.reason === "Revoked");
    assert.deepEqual(
      revoked.map((e) => e.count ?? 1),
      [1],
      "one Revoked event",
    );
  });

  it("deletes the Secret with its policy (garbage collector)", async () => {
    await api.create(ns.name, "short-lived", { rotationInterval: "1h" });
    await waitForCondition(kc, ns.name, "short-lived", { status: "True" });
    await api.delete(ns.name, "short-lived");
    // The garbage collector re-reads the API's resources every 30 s: a CRD installed moments ago
    // may take that long to be known to it.
    await waitUntil(
      "the garbage collector to delete the Secret",
      async () => {
        const s = await core
          .readNamespacedSecret({ name: "short-lived", namespace: ns.name })
          .catch((e: unknown) => {
            if (e instanceof k8s.ApiException && e.code === 404) return "gone" as const;
            throw e;
          });
        return s === "gone";
      },
      90_000,
    );
  });
});
