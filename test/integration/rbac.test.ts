/**
 * What the chart's ServiceAccount may do, as the API server answers it
 * (`kubectl auth can-i --list --as=system:serviceaccount:...`), compared with the tables below:
 * RBAC cannot grow silently. What every ServiceAccount may do anyway (discovery, self-reviews)
 * is measured on a ServiceAccount without bindings in the same namespace and left out, so the
 * tables hold exactly what the chart grants, on any Kubernetes version.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { binaryPath } from "../../harness/cluster/build.ts";
import { installRelease, type Release } from "../e2e/helm.ts";
import { adminConfig, tempNamespace } from "../../harness/cluster/kube.ts";

const run = promisify(execFile);
const kc = adminConfig();
const adminKubeconfig = process.env["KUBECONFIG"]!;
const kubectl = existsSync(binaryPath("kubectl")) ? binaryPath("kubectl") : "kubectl";

/** In each namespace the controller watches. */
const controllerTable = `
events                                        []  []  [create]
secrets                                       []  []  [create get list patch watch]
ticketkeypolicies.ticketkeys.dev              []  []  [get list watch]
ticketkeypolicies.ticketkeys.dev/finalizers   []  []  [update]
ticketkeypolicies.ticketkeys.dev/status       []  []  [patch]
`;
/** In the release namespace: the leader-election Lease, and no other. */
const leaseTable = (lease: string): string => `
leases.coordination.k8s.io                    []  []         [create]
leases.coordination.k8s.io                    []  [${lease}]  [get update]
`;

type Row = string;

/** Rows of a table: resource, non-resource URLs, resource names, verbs (sorted), one space apart. */
function rows(table: string): Row[] {
  const out = new Set<Row>();
  for (const line of table.split("\n")) {
    if (line.trim() === "" || line.startsWith("Resources")) continue;
    const m = /^\s*(\S+)?\s+\[([^\]]*)\]\s+\[([^\]]*)\]\s+\[([^\]]*)\]\s*$/.exec(line);
    assert.ok(m, `unexpected can-i line: ${line}`);
    const [, resource = "", urls = "", names = "", verbs = ""] = m;
    const sorted = verbs.split(/\s+/).filter(Boolean).sort().join(" ");
    out.add(`${resource || "-"} [${urls}] [${names}] [${sorted}]`);
  }
  return [...out].sort();
}

async function canIList(serviceAccount: string, namespace: string): Promise<Row[]> {
  const { stdout } = await run(kubectl, [
    `--kubeconfig=${adminKubeconfig}`,
    "auth",
    "can-i",
    "--list",
    `--as=system:serviceaccount:${serviceAccount}`,
    `--namespace=${namespace}`,
  ]);
  return rows(stdout);
}

describe("the chart's RBAC, as the API server reports it", () => {
  const namespaces: Awaited<ReturnType<typeof tempNamespace>>[] = [];
  const releases: Release[] = [];
  let releaseNs: string;
  let allNs: string;
  let watched: string;
  let other: string;

  /** What `system:serviceaccount:<sa>` may do in `namespace` beyond an unbound ServiceAccount. */
  const granted = async (release: Release, namespace: string): Promise<Row[]> => {
    const baseline = new Set(await canIList(`${release.namespace}:nobody`, namespace));
    const rowsNow = await canIList(`${release.namespace}:${release.fullname}`, namespace);
    const extra = rowsNow.filter((r) => !baseline.has(r));
    console.log(
      `# can-i --list --as=system:serviceaccount:${release.namespace}:${release.fullname} -n ${namespace} (beyond an unbound ServiceAccount):\n${extra.map((r) => `#   ${r}`).join("\n") || "#   (nothing)"}`,
    );
    return extra;
  };

  before(async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    for (const prefix of ["rbac", "rbac-all", "rbac-watched", "rbac-other"]) {
      namespaces.push(await tempNamespace(kc, prefix));
    }
    [releaseNs, allNs, watched, other] = namespaces.map((n) => n.name) as [string, string, string, string];
    for (const ns of [releaseNs, allNs]) {
      await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: "nobody" } } });
    }
    const base = { kubeconfig: adminKubeconfig };
    releases.push(
      await installRelease({
        ...base,
        name: "rbac",
        namespace: releaseNs,
        set: ["crds.install=false", `watchNamespaces={${watched}}`],
      }),
      await installRelease({ ...base, name: "rbac-all", namespace: allNs, set: ["crds.install=false"] }),
    );
  });

  after(async () => {
    for (const r of releases) await r.uninstall().catch(() => undefined);
    for (const ns of namespaces) await ns.remove();
  });

  it("watchNamespaces: the controller's Role in the watched namespace only", async () => {
    const [release] = releases;
    assert.ok(release);
    assert.deepEqual(await granted(release, watched), rows(controllerTable));
  });

  it("watchNamespaces: only the Lease in the release namespace, nothing elsewhere", async () => {
    const [release] = releases;
    assert.ok(release);
    assert.deepEqual(await granted(release, releaseNs), rows(leaseTable(release.fullname)));
    assert.deepEqual(await granted(release, other), []);
  });

  it("all namespaces: the controller's ClusterRole everywhere, plus the Lease at home", async () => {
    const release = releases[1];
    assert.ok(release);
    assert.deepEqual(await granted(release, other), rows(controllerTable));
    assert.deepEqual(await granted(release, allNs), rows(controllerTable + leaseTable(release.fullname)));
  });
});
