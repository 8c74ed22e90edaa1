/**
 * The foundation: the tests talk to a real kube-apiserver (with etcd, RBAC and the garbage
 * collector), not a fake. These checks prove the rig itself.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { adminConfig, serviceAccountConfig, tempNamespace, waitUntil } from "../../harness/cluster/kube.ts";

describe("the cluster under test", () => {
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let ns: Awaited<ReturnType<typeof tempNamespace>>;

  before(async () => {
    ns = await tempNamespace(kc, "foundation");
  });
  after(async () => {
    await ns.remove();
  });

  it("is a real kube-apiserver", async () => {
    const version = await kc.makeApiClient(k8s.VersionApi).getCode();
    console.log(
      `# talking to kube-apiserver ${version.gitVersion} (${version.platform}) at ${kc.getCurrentCluster()?.server ?? "?"}`,
    );
    assert.match(version.gitVersion, /^v1\.\d+\.\d+/);
  });

  it("delivers a Secret created through the API to a watch", async () => {
    const seen: string[] = [];
    const watch = new k8s.Watch(kc);
    const controller = await watch.watch(
      `/api/v1/namespaces/${ns.name}/secrets`,
      {},
      (phase, obj: k8s.V1Secret) => seen.push(`${phase} ${obj.metadata?.name ?? ""}`),
      () => undefined,
    );
    try {
      await core.createNamespacedSecret({
        namespace: ns.name,
        body: { metadata: { name: "watched" }, stringData: { greeting: "hello" } },
      });
      await waitUntil("the ADDED event", () => Promise.resolve(seen.includes("ADDED watched")), 10_000);
      await core.deleteNamespacedSecret({ name: "watched", namespace: ns.name });
      await waitUntil("the DELETED event", () => Promise.resolve(seen.includes("DELETED watched")), 10_000);
    } finally {
      controller.abort();
    }
  });

  it("refuses a ServiceAccount without RBAC (403) and allows it once a Role grants it", async () => {
    const sa = await serviceAccountConfig(kc, ns.name, "reader");
    const asReader = sa.kubeConfig.makeApiClient(k8s.CoreV1Api);
    await assert.rejects(
      asReader.listNamespacedSecret({ namespace: ns.name }),
      (err: unknown) => err instanceof k8s.ApiException && err.code === 403,
    );
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns.name,
      body: {
        metadata: { name: "secret-reader" },
        rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["list"] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns.name,
      body: {
        metadata: { name: "secret-reader" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "secret-reader" },
        subjects: [{ kind: "ServiceAccount", name: "reader", namespace: ns.name }],
      },
    });
    // RBAC changes reach the authorizer's informer within moments.
    const list = await waitUntil("RBAC to allow the list", () =>
      asReader.listNamespacedSecret({ namespace: ns.name }),
    );
    assert.ok(Array.isArray(list.items));
  });

  it("round-trips server-side apply with a field manager", async () => {
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    const desired: k8s.V1ConfigMap = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "applied", namespace: ns.name },
      data: { a: "1" },
    };
    const first = await objects.patch(
      desired,
      undefined,
      undefined,
      "tko-test",
      true,
      k8s.PatchStrategy.ServerSideApply,
    );
    assert.equal(first.data?.["a"], "1");
    const managers = first.metadata?.managedFields?.map((f) => `${f.manager ?? ""}/${f.operation ?? ""}`);
    assert.deepEqual(managers, ["tko-test/Apply"]);
    // Applying a smaller intent removes the fields this manager no longer claims.
    const second = await objects.patch(
      { ...desired, data: { b: "2" } },
      undefined,
      undefined,
      "tko-test",
      true,
      k8s.PatchStrategy.ServerSideApply,
    );
    assert.deepEqual(second.data, { b: "2" });
  });
});
