/**
 * The Helm chart on a real kube-apiserver: `helm install` succeeds (no kubelet here, so its pods
 * never run), then the real controller runs out of cluster with the container's arguments and
 * environment taken from the installed Deployment and a token of the chart's ServiceAccount:
 * it reconciles policies with exactly the chart's RBAC, for watched namespaces (Roles) and for
 * all namespaces (the ClusterRole). Last, an install that owns the CRD is uninstalled: the CRD
 * and the policies stay.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { group, plural } from "../../src/api/names.ts";
import { installRelease, type Release } from "../e2e/helm.ts";
import { adminConfig, tempNamespace, waitUntil } from "../../harness/cluster/kube.ts";
import {
  eventsFor,
  installCrd,
  policies,
  startOperator,
  waitForCondition,
  type OperatorProcess,
} from "../../harness/operator/operator.ts";
import { writeServiceAccountKubeconfig } from "../../harness/operator/service-account.ts";

const kc = adminConfig();
const adminKubeconfig = process.env["KUBECONFIG"]!;
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
const api = policies(kc);
const crdName = `${plural}.${group}`;

/** An RBAC denial in a log line (not e.g. a namespace being terminated, also a 403). */
const rbacDenial = /cannot (get|list|watch|create|update|patch|delete)\b/;

type Namespace = Awaited<ReturnType<typeof tempNamespace>>;

describe("helm chart on the control plane", () => {
  let dir: string;
  const namespaces: Namespace[] = [];
  const releases: Release[] = [];
  const controllers: OperatorProcess[] = [];

  const namespace = async (prefix: string): Promise<string> => {
    const ns = await tempNamespace(kc, prefix);
    namespaces.push(ns);
    return ns.name;
  };
  const install = async (name: string, ns: string, set: string[]): Promise<Release> => {
    const release = await installRelease({ kubeconfig: adminKubeconfig, name, namespace: ns, set });
    releases.push(release);
    return release;
  };

  /**
   * The controller as the chart's Deployment would run it, out of cluster: the container's args
   * and env (downward API values filled in as the kubelet would), authenticated as the chart's
   * ServiceAccount, probes on free loopback ports.
   */
  const runAsChart = async (release: Release): Promise<OperatorProcess> => {
    const deployment = await apps.readNamespacedDeployment({
      name: release.fullname,
      namespace: release.namespace,
    });
    const pod = deployment.spec?.template.spec;
    const container = pod?.containers[0];
    assert.ok(pod && container?.args, "the Deployment has a controller container");
    const kubeconfigPath = await writeServiceAccountKubeconfig(
      kc,
      release.namespace,
      pod.serviceAccountName ?? "default",
      join(dir, `${release.name}.kubeconfig`),
    );
    const podName = `${release.fullname}-0123456789-abcde`;
    const env: NodeJS.ProcessEnv = { KUBECONFIG: kubeconfigPath };
    for (const e of container.env ?? []) {
      const field = e.valueFrom?.fieldRef?.fieldPath;
      env[e.name] =
        field === "metadata.name" ? podName : field === "metadata.namespace" ? release.namespace : e.value;
    }
    const args = [
      ...container.args.filter((a) => !/^--(metrics|health)-address=/.test(a)),
      "--metrics-address=127.0.0.1:0",
      "--health-address=127.0.0.1:0",
      `--kubeconfig=${kubeconfigPath}`,
    ];
    const controller = startOperator(args, env);
    controllers.push(controller);
    return controller;
  };

  /** Ready, or a failure that quotes the RBAC denials the controller logged. */
  const ready = async (controller: OperatorProcess, ns: string, name: string) => {
    try {
      return await waitForCondition(kc, ns, name, { status: "True" }, 60_000);
    } catch (err) {
      const denials = controller.lines.filter((l) => rbacDenial.test(l)).slice(0, 5);
      throw new Error(`${String(err)}\nRBAC denials in the controller's log:\n${denials.join("\n")}`, {
        cause: err,
      });
    }
  };

  const assertNoRbacDenials = (controller: OperatorProcess): void => {
    const denials = controller.lines.filter((l) => rbacDenial.test(l));
    assert.deepEqual(denials, [], "the controller hit an RBAC denial");
  };

  /** The pod template passes Pod Security admission at the restricted level (a server dry run). */
  const assertRestricted = async (deployment: k8s.V1Deployment): Promise<void> => {
    const ns = deployment.metadata?.namespace ?? "";
    await core.patchNamespace(
      {
        name: ns,
        body: { metadata: { labels: { "pod-security.kubernetes.io/enforce": "restricted" } } },
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    const template = deployment.spec?.template;
    assert.ok(template?.spec);
    const pod = await core.createNamespacedPod({
      namespace: ns,
      dryRun: "All",
      body: {
        metadata: { name: "restricted-check", labels: template.metadata?.labels },
        spec: template.spec,
      },
    });
    assert.equal(pod.metadata?.name, "restricted-check");
    await assert.rejects(
      core.createNamespacedPod({
        namespace: ns,
        dryRun: "All",
        body: {
          metadata: { name: "not-restricted" },
          spec: { ...template.spec, containers: [{ name: "c", image: "busybox" }] },
        },
      }),
      (err: unknown) =>
        err instanceof k8s.ApiException && err.code === 403 && /restricted/.test(String(err.body)),
      "the namespace enforces the restricted level",
    );
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tko-chart-"));
    await installCrd(kc);
  });

  after(async () => {
    for (const c of controllers) await c.stop();
    for (const r of releases) await r.uninstall().catch(() => undefined);
    for (const ns of namespaces) await ns.remove();
    await rm(dir, { recursive: true, force: true });
  });

  it("installs with watchNamespaces, and the controller reconciles with only its Roles", async () => {
    const releaseNs = await namespace("chart-ns");
    const watched = await namespace("chart-watched");
    const release = await install("tko", releaseNs, [
      "crds.install=false", // the CRD is shared by every test: installed by installCrd
      `watchNamespaces={${releaseNs},${watched}}`,
    ]);
    const deployment = await apps.readNamespacedDeployment({ name: release.fullname, namespace: releaseNs });
    assert.equal(deployment.spec?.replicas, 2);
    assert.equal(
      (await rbac.listClusterRoleBinding()).items.filter((b) =>
        b.subjects?.some((s) => s.kind === "ServiceAccount" && s.namespace === releaseNs),
      ).length,
      0,
      "no cluster-wide binding when namespaces are listed",
    );
    await assertRestricted(deployment);
    assert.match(release.output, new RegExp(`kubectl -n ${releaseNs} get tkp`));

    const controller = await runAsChart(release);
    await api.create(releaseNs, "home", { rotationInterval: "1h" });
    await api.create(watched, "web", { secretName: "web-keys", rotationInterval: "1h" });
    const web = await ready(controller, watched, "web");
    await ready(controller, releaseNs, "home");
    const secret = await core.readNamespacedSecret({ name: "web-keys", namespace: watched });
    assert.equal(secret.metadata?.ownerReferences?.[0]?.uid, web.metadata.uid);
    assert.ok(secret.data?.["ring.json"]);
    await waitUntil("a Generated event", async () =>
      (await eventsFor(kc, watched, "web")).some((e) => e.reason === "Generated"),
    );

    const lease = await coordination.readNamespacedLease({ name: release.fullname, namespace: releaseNs });
    assert.match(lease.spec?.holderIdentity ?? "", new RegExp(`^${release.fullname}-0123456789-abcde_`));
    assertNoRbacDenials(controller);
    await controller.stop();
    const released = await coordination.readNamespacedLease({ name: release.fullname, namespace: releaseNs });
    assert.equal(released.spec?.holderIdentity, "", "the Lease is released on shutdown");
    assertNoRbacDenials(controller);
  });

  it("installs for all namespaces, and the controller reconciles anywhere with the ClusterRole", async () => {
    const releaseNs = await namespace("chart-all");
    const anywhere = await namespace("chart-anywhere");
    const release = await install("tko-all", releaseNs, ["crds.install=false"]);
    const binding = await rbac.readClusterRoleBinding({ name: release.fullname });
    assert.deepEqual(
      binding.subjects?.map((s) => ({ ...s })),
      [{ kind: "ServiceAccount", name: release.fullname, namespace: releaseNs }],
    );

    const controller = await runAsChart(release);
    await api.create(anywhere, "api", { rotationInterval: "1h" });
    await ready(controller, anywhere, "api");
    assert.ok((await core.readNamespacedSecret({ name: "api", namespace: anywhere })).data?.["ring.json"]);
    await controller.stop();
    assertNoRbacDenials(controller);
  });

  it("owns the CRD when crds.install is on, and helm uninstall keeps it and the policies", async () => {
    const releaseNs = await namespace("chart-crd");
    const policyNs = await namespace("chart-crd-policies");
    await api.create(policyNs, "survivor", { rotationInterval: "1h" });
    // The CRD already exists (every test installs it): let this release adopt it, as Helm does
    // for objects labelled and annotated for the release.
    const meta = (labels: Record<string, string | null>, annotations: Record<string, string | null>) => ({
      metadata: { labels, annotations },
    });
    const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);
    await ext.patchCustomResourceDefinition(
      {
        name: crdName,
        body: meta(
          { "app.kubernetes.io/managed-by": "Helm" },
          { "meta.helm.sh/release-name": "tko-crd", "meta.helm.sh/release-namespace": releaseNs },
        ),
      },
      merge,
    );
    try {
      const release = await install("tko-crd", releaseNs, [`watchNamespaces={${policyNs}}`]);
      const owned = (await ext.readCustomResourceDefinition({ name: crdName })).metadata ?? {};
      assert.equal(owned.annotations?.["helm.sh/resource-policy"], "keep");
      assert.equal(owned.labels?.["app.kubernetes.io/instance"], "tko-crd");

      const out = await release.uninstall();
      releases.splice(releases.indexOf(release), 1);
      assert.match(out, /kept due to the resource policy/);
      assert.ok(out.includes(`[CustomResourceDefinition] ${crdName}`), out);
      const kept = await ext.readCustomResourceDefinition({ name: crdName });
      assert.equal(kept.metadata?.deletionTimestamp, undefined, "the CRD is kept");
      assert.equal((await api.get(policyNs, "survivor")).metadata.name, "survivor", "policies survive");
      for (const gone of [
        () => apps.readNamespacedDeployment({ name: release.fullname, namespace: releaseNs }),
        () => core.readNamespacedServiceAccount({ name: release.fullname, namespace: releaseNs }),
        () => rbac.readNamespacedRole({ name: release.fullname, namespace: policyNs }),
      ]) {
        await assert.rejects(gone, (err: unknown) => err instanceof k8s.ApiException && err.code === 404);
      }
    } finally {
      // Hand the CRD back to the other tests as they found it.
      await ext.patchCustomResourceDefinition(
        {
          name: crdName,
          body: meta(
            {
              "app.kubernetes.io/managed-by": null,
              "app.kubernetes.io/instance": null,
              "app.kubernetes.io/version": null,
              "helm.sh/chart": null,
            },
            {
              "meta.helm.sh/release-name": null,
              "meta.helm.sh/release-namespace": null,
              "helm.sh/resource-policy": null,
            },
          ),
        },
        merge,
      );
      await installCrd(kc);
    }
  });
});
