/**
 * End to end on the control plane: the controller rotates a policy every 10 s; 3 Node replicas
 * load the keys with the library's Kubernetes API source, each as a ServiceAccount holding only
 * the documented minimal Role, and keep resumption through 3 rotations. Without the permission
 * a replica fails at once, naming what is missing.
 */
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { minimalRoleBinding } from "../../src/consumer/index.ts";
import { adminConfig, tempNamespace } from "../../harness/cluster/kube.ts";
import {
  installCrd,
  policies,
  startController,
  waitForCondition,
  type OperatorProcess,
} from "../../harness/operator/operator.ts";
import {
  minimalRoleKubeconfig,
  writeServiceAccountKubeconfig,
} from "../../harness/operator/service-account.ts";
import { makeServerCert, type ServerCert } from "../../harness/tls/certs.ts";
import { percent, runClients, summarize } from "../../harness/clients/client.ts";
import { startFleet } from "../../harness/fleet/fleet.ts";

const kc = adminConfig();
const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
let ns: Awaited<ReturnType<typeof tempNamespace>>;
let controller: OperatorProcess;
let cert: ServerCert;
let dir: string;

before(async () => {
  await installCrd(kc);
  ns = await tempNamespace(kc, "library");
  controller = startController(ns.name);
  cert = await makeServerCert("p256");
  dir = await mkdtemp(join(tmpdir(), "tko-library-"));
  await policies(kc).create(ns.name, "web", {
    secretName: "web-keys",
    rotationInterval: "10s",
    retiredKeys: 1,
  });
  await waitForCondition(kc, ns.name, "web", { status: "True" });
});
after(async () => {
  await controller.stop();
  await ns.remove();
});

for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
  it(`3 replicas with the minimal Role keep >= 99% resumption through 3 rotations (${version})`, async () => {
    const account = `app-${version === "TLSv1.2" ? "12" : "13"}`;
    const kubeconfig = await minimalRoleKubeconfig(kc, {
      namespace: ns.name,
      secretName: "web-keys",
      account,
      dir,
    });
    const fleet = await startFleet({
      replicas: 3,
      mode: "router",
      cert,
      source: { kubernetes: `${ns.name}/web-keys`, kubeconfig },
    });
    try {
      const api = policies(kc);
      const seen = new Set<string>();
      const first = (await api.get(ns.name, "web")).status?.activeKey ?? "";
      seen.add(first);
      const poll = setInterval(() => {
        void api.get(ns.name, "web").then(
          (p) => seen.add(p.status?.activeKey ?? first),
          () => undefined,
        );
      }, 500);
      const handshakes = await runClients(4, {
        port: fleet.balancer.port,
        ca: cert.ca,
        version,
        pauseMs: 10,
        until: () => seen.size >= 4,
      });
      clearInterval(poll);
      const s = summarize(handshakes);
      console.log(
        `# ${version}: ${percent(s.rate)} resumed of ${s.reconnections} reconnections through ${seen.size - 1} rotations (API source, minimal Role)`,
      );
      assert.equal(s.errors, 0);
      assert.ok(s.rate >= 0.99, percent(s.rate));
    } finally {
      await fleet.stop();
    }
  });
}

it("a replica whose ServiceAccount lacks the permission fails with a clear error naming it", async () => {
  // A Role that may read the Secret but not list or watch it.
  await rbac.createNamespacedRole({
    namespace: ns.name,
    body: {
      metadata: { name: "get-only" },
      rules: [{ apiGroups: [""], resources: ["secrets"], resourceNames: ["web-keys"], verbs: ["get"] }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: ns.name,
    body: minimalRoleBinding(ns.name, "web-keys", "no-watch", "get-only"),
  });
  const kubeconfig = await writeServiceAccountKubeconfig(
    kc,
    ns.name,
    "no-watch",
    join(dir, "no-watch.kubeconfig"),
  );
  const started = startFleet({
    replicas: 1,
    mode: "router",
    cert,
    source: { kubernetes: `${ns.name}/web-keys`, kubeconfig },
  });
  await assert.rejects(started, (err: Error) => {
    console.log(`# ${err.message}`);
    assert.match(err.message, /secrets/);
    assert.match(err.message, /web-keys/);
    assert.match(err.message, /list/);
    assert.match(err.message, /watch/);
    assert.match(err.message, new RegExp(`system:serviceaccount:${ns.name}:no-watch`));
    return true;
  });
});
