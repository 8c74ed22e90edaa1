/**
 * Ticket keys at rest: the local control plane encrypts Secrets in etcd (secretbox), so the raw
 * value etcd stores for a ring Secret holds no key byte in any encoding. The same check on a
 * control plane without encryption finds them: the check can fail. Each case starts its own
 * control plane (whatever cluster the other integration tests use) and the real controller.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { ringDataKey } from "../../src/api/names.ts";
import { parseRing } from "../../src/core/ring.ts";
import { etcdValue } from "../../harness/cluster/etcd.ts";
import { tempNamespace, waitUntil } from "../../harness/cluster/kube.ts";
import { startLocalControlPlane } from "../../harness/cluster/local.ts";
import { installCrd, policies, startController, waitForCondition } from "../../harness/operator/operator.ts";
import { leakNeedles } from "../../harness/operator/secret-history.ts";

/** Every secret byte string of a ring Secret: its seeds and, past the public key name, its renderings. */
function keyMaterial(secret: k8s.V1Secret): Buffer[] {
  const data = Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64")] as const);
  const ring = data.find(([k]) => k === ringDataKey)?.[1];
  assert.ok(ring, "the Secret has ring.json");
  const renderings = data.filter(([k]) => k !== ringDataKey).map(([, v]) => v);
  return [...parseRing(ring).keys.map((k) => k.seed), ...renderings];
}

/** How many of the secret values the raw stored value contains, as raw bytes or hex/base64 text. */
function countFound(stored: Buffer, material: Buffer[]): number {
  const text = stored.toString("latin1");
  return material.filter((m) => {
    // the 16 bytes after a rendering's public key name (or a seed's first 16)
    const secretPart = m.length > 32 ? m.subarray(16, 32) : m.subarray(0, 16);
    return stored.includes(secretPart) || leakNeedles([m]).some((needle) => text.includes(needle));
  }).length;
}

describe("Secrets at rest in etcd", { concurrency: false }, () => {
  for (const encryptSecrets of [true, false]) {
    const title = encryptSecrets
      ? "with the local control plane's EncryptionConfiguration, etcd holds no key byte of the ring Secret"
      : "without encryption at rest, etcd holds the ring Secret's key bytes (what the check above would find)";
    it(title, async () => {
      const plane = await startLocalControlPlane({ encryptSecrets });
      let controller: ReturnType<typeof startController> | undefined;
      try {
        const kc = new k8s.KubeConfig();
        kc.loadFromFile(plane.kubeconfigPath);
        await installCrd(kc);
        const ns = await tempNamespace(kc, "at-rest");
        controller = startController(ns.name, [], { KUBECONFIG: plane.kubeconfigPath });
        await policies(kc).create(ns.name, "web", { secretName: "web-keys", rotationInterval: "1h" });
        await waitForCondition(kc, ns.name, "web", { status: "True" }, 60_000);
        const core = kc.makeApiClient(k8s.CoreV1Api);
        const secret = await core.readNamespacedSecret({ namespace: ns.name, name: "web-keys" });
        const material = keyMaterial(secret);
        const stored = await waitUntil("the Secret in etcd", () =>
          etcdValue(plane.etcdUrl, `/registry/secrets/${ns.name}/web-keys`),
        );
        const found = countFound(stored, material);
        const prefix = stored.subarray(0, 27).toString("latin1");
        console.log(
          `# etcd value of ${ns.name}/web-keys (${stored.length} bytes, encryption ${encryptSecrets ? "on" : "off"}): starts "${prefix.replace(/[^\x20-\x7e]/g, ".")}", ${found} of the Secret's ${material.length} secret values found in it`,
        );
        if (encryptSecrets) {
          assert.equal(prefix, "k8s:enc:secretbox:v1:local:", "stored through the secretbox provider");
          assert.equal(found, 0, "no key material in etcd");
        } else {
          assert.ok(!prefix.startsWith("k8s:enc:"), "stored in plain form");
          assert.equal(found, material.length, "every secret value is in the plain stored Secret");
        }
      } finally {
        await controller?.stop();
        await plane.stop();
      }
    });
  }
});
