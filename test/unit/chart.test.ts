/**
 * The Helm chart, rendered offline: `helm lint --strict`, `helm template` with default values and
 * with watchNamespaces, the switches, the values schema, and the generated artefacts (the chart's
 * CRD copy, deploy/) being up to date. Skipped, with the reason, only when no helm binary exists.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { before, describe, it } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import {
  chartCrdPath,
  chartDir,
  crdPath,
  findHelm,
  helm,
  manifestPath,
  renderManifest,
  repoRoot,
} from "../../scripts/render-manifests.ts";

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}
interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}
interface Container {
  name: string;
  image: string;
  args: string[];
  env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports: { name: string; containerPort: number }[];
  securityContext: Record<string, unknown>;
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface PodSpec {
  serviceAccountName: string;
  securityContext: Record<string, unknown>;
  containers: Container[];
}

const helmPath = await findHelm();
const skip =
  helmPath === undefined
    ? "SKIPPED: no helm binary (neither the project's build nor one on PATH): run `npm run cluster -- --build-only`"
    : false;
if (skip !== false) console.log(`# chart tests ${skip}`);

const release = "tko";
const namespace = "tko-system";

async function render(...set: string[]): Promise<K8sObject[]> {
  const out = await helm(helmPath!, [
    "template",
    release,
    chartDir,
    `--namespace=${namespace}`,
    ...set.map((s) => `--set=${s}`),
  ]);
  return parseAllDocuments(out)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

function find(objects: K8sObject[], kind: string, name: string, ns?: string): K8sObject {
  const found = objects.find(
    (o) => o.kind === kind && o.metadata.name === name && (ns === undefined || o.metadata.namespace === ns),
  );
  assert.ok(found, `${kind} ${ns === undefined ? "" : `${ns}/`}${name} not rendered`);
  return found;
}

const names = (objects: K8sObject[]): string[] =>
  objects
    .map(
      (o) =>
        `${o.kind}/${o.metadata.namespace === undefined ? "" : `${o.metadata.namespace}/`}${o.metadata.name}`,
    )
    .sort();

function podSpec(objects: K8sObject[]): PodSpec {
  const deployment = find(objects, "Deployment", `${release}-ticket-key-operator`, namespace);
  return (deployment["spec"] as { template: { spec: PodSpec } }).template.spec;
}

const controllerRules: Rule[] = [
  { apiGroups: ["ticketkeys.dev"], resources: ["ticketkeypolicies"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["ticketkeys.dev"], resources: ["ticketkeypolicies/status"], verbs: ["patch"] },
  { apiGroups: ["ticketkeys.dev"], resources: ["ticketkeypolicies/finalizers"], verbs: ["update"] },
  { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch", "create", "patch"] },
  { apiGroups: [""], resources: ["events"], verbs: ["create"] },
];
const leaseRules: Rule[] = [
  { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    resourceNames: [`${release}-ticket-key-operator`],
    verbs: ["get", "update"],
  },
];

describe("the chart's generated files", () => {
  it("ships a byte-for-byte copy of crds/ (fix: npm run manifests)", async () => {
    assert.equal(
      await readFile(chartCrdPath, "utf8"),
      await readFile(crdPath, "utf8"),
      "charts/ticket-key-operator/files/crds/ differs from crds/: run `npm run manifests`",
    );
  });

  it("has appVersion = the package version (the default image tag)", async () => {
    const chart = parse(await readFile(`${chartDir}/Chart.yaml`, "utf8")) as { appVersion: string };
    const pkg = JSON.parse(await readFile(`${repoRoot}package.json`, "utf8")) as { version: string };
    assert.equal(chart.appVersion, pkg.version);
  });

  it("deploy/ticket-key-operator.yaml is up to date (fix: npm run manifests)", { skip }, async () => {
    const expected = await renderManifest(helmPath!);
    const actual = await readFile(manifestPath, "utf8").catch(() => "(missing)");
    assert.ok(actual === expected, "deploy/ticket-key-operator.yaml is stale: run `npm run manifests`");
    const objects = parseAllDocuments(actual)
      .map((d) => d.toJS() as K8sObject | null)
      .filter((o): o is K8sObject => o !== null);
    assert.equal(objects[0]?.kind, "Namespace", "the Namespace comes first");
    assert.ok(!objects.some((o) => o.kind === "CustomResourceDefinition"), "the CRD is applied from crds/");
  });
});

describe("helm chart", { skip }, () => {
  let defaults: K8sObject[];
  before(async () => {
    defaults = await render();
  });

  it("passes helm lint --strict, with default values and with every switch flipped", async () => {
    for (const set of [
      [],
      [
        "watchNamespaces={a,b}",
        "crds.install=false",
        "podDisruptionBudget.enabled=true",
        "serviceMonitor.enabled=true",
        "leaderElection.enabled=false",
        "rbac.aggregateToDefaultRoles=false",
      ],
    ]) {
      const out = await helm(helmPath!, ["lint", "--strict", chartDir, ...set.map((s) => `--set=${s}`)]);
      assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.doesNotMatch(out, /\[(WARNING|ERROR)\]/, out);
    }
  });

  it("renders the expected objects with default values", () => {
    const fullname = `${release}-ticket-key-operator`;
    assert.deepEqual(
      names(defaults),
      [
        `ClusterRole/${fullname}`,
        `ClusterRole/${fullname}-edit`,
        `ClusterRole/${fullname}-view`,
        `ClusterRoleBinding/${fullname}`,
        "CustomResourceDefinition/ticketkeypolicies.ticketkeys.dev",
        `Deployment/${namespace}/${fullname}`,
        `Role/${namespace}/${fullname}-leader-election`,
        `RoleBinding/${namespace}/${fullname}-leader-election`,
        `Service/${namespace}/${fullname}-metrics`,
        `ServiceAccount/${namespace}/${fullname}`,
      ].sort(),
    );
    for (const o of defaults) {
      const labels = o.metadata.labels ?? {};
      for (const label of [
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/version",
        "app.kubernetes.io/managed-by",
        "app.kubernetes.io/part-of",
        "helm.sh/chart",
      ]) {
        assert.ok(labels[label], `${o.kind}/${o.metadata.name} lacks label ${label}`);
      }
    }
  });

  it("installs the CRD from crds/, kept on uninstall", async () => {
    const crd = find(defaults, "CustomResourceDefinition", "ticketkeypolicies.ticketkeys.dev");
    assert.equal(crd.metadata.annotations?.["helm.sh/resource-policy"], "keep");
    const source = parse(await readFile(crdPath, "utf8")) as K8sObject;
    assert.deepEqual(crd["spec"], source["spec"]);
    assert.equal(crd.apiVersion, source.apiVersion);
    for (const [k, v] of Object.entries(source.metadata.labels ?? {}))
      assert.equal(crd.metadata.labels?.[k], v);

    const notKept = find(await render("crds.keep=false"), "CustomResourceDefinition", crd.metadata.name);
    assert.equal(notKept.metadata.annotations?.["helm.sh/resource-policy"], undefined);
    const without = await render("crds.install=false");
    assert.ok(!without.some((o) => o.kind === "CustomResourceDefinition"));
  });

  it("grants the controller exactly its requests, cluster-wide when watching all namespaces", () => {
    const role = find(defaults, "ClusterRole", `${release}-ticket-key-operator`);
    assert.deepEqual(role["rules"], controllerRules);
    const binding = find(defaults, "ClusterRoleBinding", `${release}-ticket-key-operator`);
    assert.deepEqual(binding["subjects"], [
      { kind: "ServiceAccount", name: `${release}-ticket-key-operator`, namespace },
    ]);
    const lease = find(defaults, "Role", `${release}-ticket-key-operator-leader-election`, namespace);
    assert.deepEqual(lease["rules"], leaseRules);
  });

  it("runs 2 replicas with leader election, the downward API, probes and the restricted profile", () => {
    const deployment = find(defaults, "Deployment", `${release}-ticket-key-operator`, namespace);
    assert.equal((deployment["spec"] as { replicas: number }).replicas, 2);
    const pod = podSpec(defaults);
    assert.equal(pod.serviceAccountName, `${release}-ticket-key-operator`);
    assert.deepEqual(pod.securityContext, {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      seccompProfile: { type: "RuntimeDefault" },
    });
    const [c] = pod.containers;
    assert.ok(c);
    assert.equal(c.image, "ghcr.io/ticket-key-operator/ticket-key-operator:0.1.0");
    assert.deepEqual(c.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ["ALL"] },
    });
    assert.equal(c.args[0], "controller");
    for (const arg of [
      "--leader-elect=true",
      `--leader-election-id=${release}-ticket-key-operator`,
      "--metrics-address=:8080",
      "--health-address=:8081",
    ]) {
      assert.ok(c.args.includes(arg), `missing ${arg}`);
    }
    assert.deepEqual(
      c.env.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]),
      [
        ["POD_NAME", "metadata.name"],
        ["POD_NAMESPACE", "metadata.namespace"],
      ],
    );
    assert.deepEqual(
      c.ports.map((p) => [p.name, p.containerPort]),
      [
        ["metrics", 8080],
        ["health", 8081],
      ],
    );
    assert.deepEqual(c.livenessProbe.httpGet, { path: "/healthz", port: "health" });
    assert.deepEqual(c.readinessProbe.httpGet, { path: "/readyz", port: "health" });
    assert.ok(c.resources.requests?.["memory"] && c.resources.limits?.["memory"]);
    const service = find(defaults, "Service", `${release}-ticket-key-operator-metrics`, namespace);
    assert.deepEqual((service["spec"] as { ports: unknown }).ports, [
      { name: "metrics", port: 8080, targetPort: "metrics", protocol: "TCP" },
    ]);
  });

  it("with watchNamespaces: a Role per namespace, no cluster-wide controller access, WATCH_NAMESPACES", async () => {
    const objects = await render("watchNamespaces={shop,payments}");
    const fullname = `${release}-ticket-key-operator`;
    assert.ok(!objects.some((o) => o.kind === "ClusterRoleBinding"));
    assert.deepEqual(
      objects.filter((o) => o.kind === "ClusterRole").map((o) => o.metadata.name),
      [`${fullname}-edit`, `${fullname}-view`],
      "only the aggregated user-facing roles are cluster-wide",
    );
    for (const ns of ["shop", "payments"]) {
      assert.deepEqual(find(objects, "Role", fullname, ns)["rules"], controllerRules);
      const binding = find(objects, "RoleBinding", fullname, ns);
      assert.deepEqual(binding["roleRef"], {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "Role",
        name: fullname,
      });
      assert.deepEqual(binding["subjects"], [{ kind: "ServiceAccount", name: fullname, namespace }]);
    }
    assert.deepEqual(find(objects, "Role", `${fullname}-leader-election`, namespace)["rules"], leaseRules);
    const env = podSpec(objects).containers[0]?.env.find((e) => e.name === "WATCH_NAMESPACES");
    assert.equal(env?.value, "shop,payments");
  });

  it("renders the optional PodDisruptionBudget and ServiceMonitor only when enabled", async () => {
    assert.ok(!defaults.some((o) => o.kind === "PodDisruptionBudget" || o.kind === "ServiceMonitor"));
    const objects = await render("podDisruptionBudget.enabled=true", "serviceMonitor.enabled=true");
    const pdb = find(objects, "PodDisruptionBudget", `${release}-ticket-key-operator`, namespace);
    assert.equal((pdb["spec"] as { minAvailable: number }).minAvailable, 1);
    const monitor = find(objects, "ServiceMonitor", `${release}-ticket-key-operator`, namespace);
    assert.equal(monitor.apiVersion, "monitoring.coreos.com/v1");
  });

  it("turns leader election off consistently", async () => {
    const objects = await render("leaderElection.enabled=false", "replicaCount=1");
    assert.ok(!objects.some((o) => o.metadata.name.endsWith("-leader-election")));
    const args = podSpec(objects).containers[0]?.args ?? [];
    assert.ok(args.includes("--leader-elect=false"));
    assert.ok(!args.some((a) => a.startsWith("--leader-election-id")));
  });

  it("pins the image by digest or tag", async () => {
    const digest = `sha256:${"a".repeat(64)}`;
    assert.equal(
      podSpec(await render(`image.digest=${digest}`)).containers[0]?.image,
      `ghcr.io/ticket-key-operator/ticket-key-operator@${digest}`,
    );
    assert.equal(
      podSpec(await render("image.repository=example.com/tko", "image.tag=dev")).containers[0]?.image,
      "example.com/tko:dev",
    );
  });

  it("rejects values outside values.schema.json", async () => {
    for (const bad of [
      "unknownKey=1",
      "crds.installl=false",
      "image.pullPolicy=Sometimes",
      "watchNamespaces={Not_A_Namespace}",
      "logLevel=verbose",
      "leaderElection.leaseDuration=15",
    ]) {
      await assert.rejects(render(bad), /values don't meet the specifications of the schema/, bad);
    }
  });
});
