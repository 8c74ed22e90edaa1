/**
 * `npm run manifests`: the artefacts generated from the Helm chart, for users without Helm.
 *
 * - charts/ticket-key-operator/files/crds/: a byte-for-byte copy of crds/ (the chart cannot read
 *   files outside its directory), rendered by the chart's crd.yaml template;
 * - deploy/ticket-key-operator.yaml: a Namespace plus `helm template ticket-key-operator
 *   charts/ticket-key-operator --namespace ticket-key-operator --set crds.install=false`, so that
 *   `kubectl apply -f crds/ -f deploy/` installs what the chart installs with default values.
 *
 * test/unit/chart.test.ts fails when either is stale.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { format, resolveConfig } from "prettier";
import { binaryPath } from "../harness/cluster/build.ts";
import { versions } from "../harness/cluster/versions.ts";

const run = promisify(execFile);

export const repoRoot = fileURLToPath(new URL("..", import.meta.url));
export const chartDir = `${repoRoot}charts/ticket-key-operator`;
export const crdFile = "ticketkeys.dev_ticketkeypolicies.yaml";
export const crdPath = `${repoRoot}crds/${crdFile}`;
export const chartCrdPath = `${chartDir}/files/crds/${crdFile}`;
export const manifestPath = `${repoRoot}deploy/ticket-key-operator.yaml`;
export const releaseName = "ticket-key-operator";
export const releaseNamespace = "ticket-key-operator";

/** The helm the project builds (harness/cluster/build.ts), else one on PATH; undefined if none. */
export async function findHelm(): Promise<string | undefined> {
  const built = binaryPath("helm");
  if (existsSync(built)) return built;
  try {
    await run("helm", ["version", "--short"]);
    return "helm";
  } catch {
    return undefined;
  }
}

/**
 * Runs helm. `template` gets `--kube-version` (the pinned control-plane version) so that what
 * it renders never depends on the default a given helm build assumes (ours, built from source,
 * assumes v1.20).
 */
export async function helm(helmPath: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const withVersion = args[0] === "template" ? [...args, `--kube-version=${versions.kubernetes}`] : args;
  const { stdout } = await run(helmPath, withVersion, {
    cwd: repoRoot,
    maxBuffer: 64 << 20,
    env: { ...process.env, ...env },
  });
  return stdout;
}

const namespaceObject = `apiVersion: v1
kind: Namespace
metadata:
  name: ${releaseNamespace}
  labels:
    app.kubernetes.io/part-of: ticket-key-operator
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/warn: restricted
`;

/** The whole content deploy/ticket-key-operator.yaml must have (prettier-formatted, as `npm run lint` checks). */
export async function renderManifest(helmPath: string): Promise<string> {
  const rendered = await helm(helmPath, [
    "template",
    releaseName,
    chartDir,
    `--namespace=${releaseNamespace}`,
    "--set=crds.install=false",
  ]);
  const text = [
    "# Generated from charts/ticket-key-operator by `npm run manifests` (scripts/render-manifests.ts).",
    "# Do not edit. Install without Helm:  kubectl apply -f crds/ -f deploy/",
    "---",
    namespaceObject.trimEnd(),
    rendered.trimStart(),
  ].join("\n");
  return format(text, { ...(await resolveConfig(manifestPath)), filepath: manifestPath });
}

if (import.meta.main) {
  await mkdir(`${chartDir}/files/crds`, { recursive: true });
  await copyFile(crdPath, chartCrdPath);
  console.log(`copied crds/${crdFile} into charts/ticket-key-operator/files/crds/`);
  const helmPath = await findHelm();
  if (helmPath === undefined) {
    console.error("helm not found: run `npm run cluster -- --build-only` (builds it) or put helm on PATH");
    process.exit(1);
  }
  await mkdir(`${repoRoot}deploy`, { recursive: true });
  await writeFile(manifestPath, await renderManifest(helmPath));
  console.log("wrote deploy/ticket-key-operator.yaml");
}
