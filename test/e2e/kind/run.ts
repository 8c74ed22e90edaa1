/**
 * `npm run test:e2e:kind`: the whole product on a real cluster, as a user installs it.
 *
 *  1. creates a kind cluster; builds the operator image (Dockerfile) and the app image
 *     (app.Dockerfile: + examples/node-server + the client) and loads them into kind;
 *  2. `helm install`s charts/ticket-key-operator (CRD included) and waits for the rollout;
 *  3. deploys a 3-replica Node app using the library and a 3-replica nginx with the
 *     `ticket-key-operator sidecar`, each behind a Service, and a policy rotating every 20 s;
 *  4. runs a client pod that reconnects through each Service with TLS 1.2 and TLS 1.3, reusing
 *     sessions, for several rotations, and asserts >= 99% resumption for each;
 *  5. on failure dumps pods, events, policies and every container's logs; deletes the cluster.
 *
 * Where `docker info` fails or kind is not installed it prints one SKIPPED line and exits 0.
 * Flags: --keep (keep the cluster), --duration 100s (measurement), --name tko-e2e.
 */
import { makeServerCert } from "../../../harness/tls/certs.ts";
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { binaryPath } from "../../../harness/cluster/build.ts";
import { operatorArgs } from "../../../harness/operator/command.ts";
import { chartDir, findHelm, repoRoot } from "../../../scripts/render-manifests.ts";
import { resultPrefix, type ClientReport } from "./client.ts";
import {
  clientJob,
  namespace,
  policy,
  policyName,
  sidecarFlags,
  tlsSecretName,
  toYaml,
  workload,
  type Images,
} from "./manifests.ts";

const execFileAsync = promisify(execFile);
const minResumption = 0.99;
const minRotations = 3;

const { values: flags } = parseArgs({
  options: {
    keep: { type: "boolean", default: false },
    duration: { type: "string", default: "100s" },
    name: { type: "string", default: `tko-e2e-${randomBytes(2).toString("hex")}` },
  },
});

const log = (line: string): void => console.log(`[kind e2e] ${line}`);

async function succeeds(cmd: string, args: string[]): Promise<boolean> {
  try {
    await execFileAsync(cmd, args, { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/** Runs a command with its output streamed (prefixed); rejects on a non-zero exit. */
function sh(cmd: string, args: string[], options: { input?: string; quiet?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (options.quiet !== true) process.stdout.write(d);
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      if (options.quiet !== true) process.stderr.write(d);
    });
    child.stdin.end(options.input ?? "");
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`${cmd} ${args.join(" ")} exited with ${code}\n${err.slice(-2000)}`)),
    );
  });
}

// --- preconditions: skip cleanly where Docker or kind are missing ---------------------------
const missing: string[] = [];
if (!(await succeeds("docker", ["info"]))) missing.push("no Docker engine (docker info failed)");
if (!(await succeeds("kind", ["version"]))) missing.push("kind not installed");
if (missing.length > 0) {
  console.log(
    `kind e2e: SKIPPED — ${missing.join(" / ")}; run it where Docker and kind exist: npm run test:e2e:kind`,
  );
  process.exit(0);
}

const helm = (await findHelm()) ?? "helm";
const kubectlBin = existsSync(binaryPath("kubectl")) ? binaryPath("kubectl") : "kubectl";
const nodeServer = join(repoRoot, "examples/node-server/server.ts");
if (!existsSync(nodeServer)) {
  throw new Error("examples/node-server/server.ts does not exist: the suite deploys it as the Node app");
}
const sidecarHelp = await sh(process.execPath, operatorArgs(["sidecar", "--help"]), { quiet: true }).catch(
  (err: unknown) => String(err),
);
const unknownFlags = sidecarFlags.filter((f) => !sidecarHelp.includes(f));
if (unknownFlags.length > 0) {
  throw new Error(
    `ticket-key-operator sidecar --help does not list ${unknownFlags.join(", ")}: align sidecarArgs in test/e2e/kind/manifests.ts`,
  );
}

const work = await mkdtemp(join(tmpdir(), "tko-kind-"));
const kubeconfig = join(work, "kubeconfig");
const kubectl = (args: string[], options: { input?: string; quiet?: boolean } = {}): Promise<string> =>
  sh(kubectlBin, [`--kubeconfig=${kubeconfig}`, ...args], options);
const images: Images = {
  operator: "ticket-key-operator:e2e",
  app: "ticket-key-operator-e2e-app:e2e",
  nginx: "nginxinc/nginx-unprivileged:1.27",
};

async function dumpDiagnostics(): Promise<void> {
  const dir = join(repoRoot, ".tmp", "e2e-kind");
  await mkdir(dir, { recursive: true });
  const sections: [string, string[]][] = [
    ["pods", ["get", "pods", "-A", "-o", "wide"]],
    ["policies", ["get", "tkp", "-A", "-o", "yaml"]],
    ["events", ["get", "events", "-A", "--sort-by=.lastTimestamp"]],
    [
      "operator",
      [
        "logs",
        "-n",
        "ticket-key-operator",
        "-l",
        "app.kubernetes.io/name=ticket-key-operator",
        "--all-containers",
        "--prefix",
        "--tail=300",
      ],
    ],
    [
      "node-app",
      ["logs", "-n", namespace, "-l", "app=node-app", "--all-containers", "--prefix", "--tail=200"],
    ],
    ["nginx", ["logs", "-n", namespace, "-l", "app=nginx", "--all-containers", "--prefix", "--tail=200"]],
    ["client", ["logs", "-n", namespace, "job/resumption-client", "--tail=100"]],
  ];
  for (const [name, args] of sections) {
    const text = await kubectl(args, { quiet: true }).catch((err: unknown) => String(err));
    await writeFile(join(dir, `${name}.txt`), text);
    console.log(`\n===== ${name} (kubectl ${args.join(" ")})\n${text.split("\n").slice(-80).join("\n")}`);
  }
  log(`diagnostics written to ${dir}`);
}

async function waitForJob(name: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = JSON.parse(
      await kubectl(["get", "job", name, "-n", namespace, "-o", "jsonpath={.status}"], { quiet: true }),
    ) as { succeeded?: number; failed?: number };
    if ((status.succeeded ?? 0) > 0) return;
    if ((status.failed ?? 0) > 0) throw new Error(`job ${name} failed`);
    if (Date.now() > deadline) throw new Error(`job ${name} did not finish in ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 5000));
  }
}

async function rotationEvents(): Promise<number> {
  const out = await kubectl(
    [
      "get",
      "events",
      "-n",
      namespace,
      "--field-selector",
      `reason=Rotated,involvedObject.name=${policyName}`,
      "-o",
      "json",
    ],
    { quiet: true },
  );
  const list = JSON.parse(out) as { items: { count?: number }[] };
  return list.items.reduce((n, e) => n + (e.count ?? 1), 0);
}

let failed = false;
try {
  log(`creating cluster ${flags.name}`);
  await sh("kind", [
    "create",
    "cluster",
    `--name=${flags.name}`,
    `--kubeconfig=${kubeconfig}`,
    "--wait=180s",
  ]);

  log("building images");
  await sh("docker", ["build", "-t", images.operator, "."]);
  await sh("docker", [
    "build",
    "-f",
    "test/e2e/kind/app.Dockerfile",
    "--build-arg",
    `OPERATOR_IMAGE=${images.operator}`,
    "-t",
    images.app,
    ".",
  ]);
  await sh("docker", ["pull", images.nginx]);
  for (const image of [images.operator, images.app, images.nginx]) {
    await sh("kind", ["load", "docker-image", image, `--name=${flags.name}`]);
  }

  log("installing the chart");
  const [repository, tag] = images.operator.split(":") as [string, string];
  await sh(helm, [
    "install",
    "ticket-key-operator",
    chartDir,
    `--kubeconfig=${kubeconfig}`,
    "--namespace=ticket-key-operator",
    "--create-namespace",
    `--set=image.repository=${repository}`,
    `--set=image.tag=${tag}`,
    "--set=image.pullPolicy=Never",
    "--wait",
    "--timeout=3m",
  ]);

  log("deploying the Node app and nginx + sidecar");
  await kubectl(["create", "namespace", namespace]);
  const { certPath: cert, keyPath: key } = await makeServerCert("p256", {
    dir: work,
    names: [`DNS:node-app.${namespace}.svc`, `DNS:nginx.${namespace}.svc`],
  });
  await kubectl([
    "create",
    "secret",
    "tls",
    tlsSecretName,
    "-n",
    namespace,
    `--cert=${cert}`,
    `--key=${key}`,
  ]);
  await kubectl(["apply", "-f", "-"], { input: toYaml([policy]) });
  await kubectl(["wait", "--for=condition=Ready", `tkp/${policyName}`, "-n", namespace, "--timeout=60s"]);
  await kubectl(["apply", "-f", "-"], { input: toYaml(workload(images)) });
  for (const app of ["node-app", "nginx"]) {
    await kubectl(["rollout", "status", `deployment/${app}`, "-n", namespace, "--timeout=180s"]);
  }

  log(`measuring resumption through the Services for ${flags.duration}`);
  const rotationsBefore = await rotationEvents();
  await kubectl(["apply", "-f", "-"], { input: toYaml([clientJob(images, flags.duration)]) });
  const durationMs = Number(/^(\d+)s$/.exec(flags.duration)?.[1] ?? 100) * 1000;
  await waitForJob("resumption-client", durationMs + 180_000);
  const rotations = (await rotationEvents()) - rotationsBefore;
  const logs = await kubectl(["logs", "-n", namespace, "job/resumption-client"], { quiet: true });
  const line = logs.split("\n").findLast((l) => l.startsWith(resultPrefix));
  if (line === undefined) throw new Error(`the client printed no result:\n${logs}`);
  const report = JSON.parse(line.slice(resultPrefix.length)) as ClientReport;
  await writeFile(join(work, "report.json"), JSON.stringify(report, null, 2));

  const problems: string[] = [];
  console.log(`\n  target                              TLS      reconnections  resumed   errors`);
  for (const r of report.results) {
    const rate = r.reconnections === 0 ? 0 : r.resumed / r.reconnections;
    console.log(
      `  ${r.target.padEnd(36)}${r.version.padEnd(9)}${String(r.reconnections).padStart(13)}  ${(100 * rate).toFixed(2).padStart(6)}%  ${String(r.errors).padStart(6)}`,
    );
    if (r.reconnections < 100)
      problems.push(`${r.target} ${r.version}: only ${r.reconnections} reconnections`);
    if (rate < minResumption) problems.push(`${r.target} ${r.version}: ${(100 * rate).toFixed(2)}% < 99%`);
    if (r.errors > r.reconnections / 100) {
      problems.push(`${r.target} ${r.version}: ${r.errors} errors (${r.firstErrors.join("; ")})`);
    }
  }
  console.log(`  rotations during the measurement: ${rotations}\n`);
  if (rotations < minRotations) problems.push(`only ${rotations} rotations (want >= ${minRotations})`);
  if (problems.length > 0) throw new Error(`kind e2e failed:\n  ${problems.join("\n  ")}`);
  log("PASSED");
} catch (err) {
  failed = true;
  console.error(err instanceof Error ? err.message : String(err));
  await dumpDiagnostics().catch((e: unknown) => console.error(`could not dump diagnostics: ${String(e)}`));
} finally {
  if (flags.keep) {
    log(
      `kept cluster ${flags.name}: export KUBECONFIG=${kubeconfig}; delete with: kind delete cluster --name ${flags.name}`,
    );
  } else {
    await sh("kind", ["delete", "cluster", `--name=${flags.name}`]).catch((e: unknown) =>
      console.error(`could not delete the cluster: ${String(e)}`),
    );
    await rm(work, { recursive: true, force: true });
  }
}
process.exit(failed ? 1 : 0);
