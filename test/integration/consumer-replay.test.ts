/**
 * The library's API source against the real API server, with Secrets written by hand the way a
 * restore, a GitOps re-apply or an attacker would: after a revoke, the pre-revoke ring put back
 * never comes into force again (its issuedAt is older), and a Secret that is not the operator's
 * (another type, no labels) is never taken. The last good ring stays in force throughout.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { after, before, it } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { managedByLabel, managedByValue, policyLabel, ringDataKey, secretType } from "../../src/api/names.ts";
import { keyId, nextRing, serializeRing, type Ring } from "../../src/core/index.ts";
import { kubernetesSource } from "../../src/consumer/index.ts";
import { adminConfig, tempNamespace, waitUntil } from "../../harness/cluster/kube.ts";

const kc = adminConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const spec = { rotationIntervalMs: 3_600_000, retiredKeys: 1, suspend: false };
let ns: Awaited<ReturnType<typeof tempNamespace>>;

before(async () => {
  ns = await tempNamespace(kc, "replay");
});
after(async () => {
  await ns.remove();
});

const labels = { [managedByLabel]: managedByValue, [policyLabel]: "web" };
const secret = (ring: Ring, extra: Partial<k8s.V1Secret> = {}): k8s.V1Secret => ({
  metadata: { name: "web-keys", namespace: ns.name, labels },
  type: secretType,
  data: { [ringDataKey]: Buffer.from(serializeRing(ring)).toString("base64") },
  ...extra,
});
const active = (ring: Ring): string =>
  keyId(ring.keys.find((k) => k.activeFrom <= Date.now() && Date.now() < k.activeUntil)!);

it("a revoke followed by a replay of the pre-revoke Secret: the replay is rejected, the revoked keys never return", async () => {
  const before = nextRing({
    previous: undefined,
    spec,
    now: Date.now(),
    random: randomBytes,
  }).ring;
  await core.createNamespacedSecret({ namespace: ns.name, body: secret(before) });
  const source = kubernetesSource({ namespace: ns.name, name: "web-keys", kubeConfig: kc });
  const rejected: string[] = [];
  source.on("rejected", ({ reason }) => rejected.push(reason));
  try {
    const first = await source.start();
    assert.equal(active(first), active(before));
    // the revoke: a fresh ring, issued after the one it replaces
    const revoked = nextRing({
      previous: before,
      spec,
      now: Date.now(),
      random: randomBytes,
      revoke: true,
    }).ring;
    const taken = once(source, "ring");
    await core.replaceNamespacedSecret({ name: "web-keys", namespace: ns.name, body: secret(revoked) });
    await taken;
    assert.equal(active(source.current!), active(revoked));
    // the pre-revoke copy put back (e.g. `kubectl apply` of an old manifest)
    await core.replaceNamespacedSecret({ name: "web-keys", namespace: ns.name, body: secret(before) });
    await waitUntil("the replay to be rejected", () => Promise.resolve(rejected.length >= 1));
    assert.match(rejected[0]!, /^replayed update: issued at \S+Z, before the ring in force/);
    assert.equal(active(source.current!), active(revoked), "the revoked keys stay out");
    // a Secret of that name that is not the operator's: another type, or without its labels
    await core.deleteNamespacedSecret({ name: "web-keys", namespace: ns.name });
    const later = nextRing({
      previous: revoked,
      spec,
      now: Date.now() + 1,
      random: randomBytes,
      revoke: true,
    }).ring;
    await core.createNamespacedSecret({ namespace: ns.name, body: secret(later, { type: "Opaque" }) });
    await waitUntil("the Opaque Secret to be rejected", () => Promise.resolve(rejected.length >= 2));
    // (a Secret's type cannot change: delete it and create it again)
    await core.deleteNamespacedSecret({ name: "web-keys", namespace: ns.name });
    await core.createNamespacedSecret({
      namespace: ns.name,
      body: secret(later, { metadata: { name: "web-keys", namespace: ns.name } }),
    });
    await waitUntil("the unlabelled Secret to be rejected", () => Promise.resolve(rejected.length >= 3));
    console.log(`# rejected, with the last good ring kept:\n${rejected.map((r) => `#   ${r}`).join("\n")}`);
    assert.match(
      rejected[1]!,
      /is not a key ring Secret of the operator: type "Opaque", not ticketkeys\.dev\/key-ring/,
    );
    assert.match(
      rejected[2]!,
      /is not a key ring Secret of the operator: no label app\.kubernetes\.io\/managed-by=ticket-key-operator/,
    );
    assert.equal(active(source.current!), active(revoked));
    // the operator's Secret again: taken
    const back = once(source, "ring");
    await core.replaceNamespacedSecret({ name: "web-keys", namespace: ns.name, body: secret(later) });
    await back;
    assert.equal(active(source.current!), active(later));
  } finally {
    await source.stop();
  }
});
