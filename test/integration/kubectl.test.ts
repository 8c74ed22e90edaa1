/**
 * The user's path with kubectl: apply the CRD and examples/policy.yaml, wait for Ready, and see
 * the printer columns. Uses the kubectl the project built (or the one on PATH for an existing
 * cluster).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { after, before, it } from "node:test";
import { promisify } from "node:util";
import { binaryPath } from "../../harness/cluster/build.ts";
import { adminConfig, tempNamespace } from "../../harness/cluster/kube.ts";
import { startController, type OperatorProcess } from "../../harness/operator/operator.ts";

const run = promisify(execFile);
const kubectlPath = existsSync(binaryPath("kubectl")) ? binaryPath("kubectl") : "kubectl";
const kubectl = async (...args: string[]): Promise<string> => (await run(kubectlPath, args)).stdout;

const kc = adminConfig();
let ns: Awaited<ReturnType<typeof tempNamespace>>;
let controller: OperatorProcess;

before(async () => {
  ns = await tempNamespace(kc, "kubectl");
  controller = startController(ns.name);
});
after(async () => {
  await controller.stop();
  await ns.remove();
});

it("kubectl apply -f examples/policy.yaml && kubectl wait --for=condition=Ready succeeds; get shows the columns", async () => {
  await kubectl("apply", "-f", "crds/");
  // The example names namespace "default"; apply it into the test's namespace instead.
  const manifest = readFileSync("examples/policy.yaml", "utf8").replace(
    /namespace: default/,
    `namespace: ${ns.name}`,
  );
  const applied = run(kubectlPath, ["apply", "-f", "-"]);
  applied.child.stdin?.end(manifest);
  const { stdout } = await applied;
  assert.match(stdout, /ticketkeypolicy.ticketkeys.dev\/web (created|configured)/);
  const started = Date.now();
  await kubectl("wait", "--for=condition=Ready", "tkp/web", "-n", ns.name, "--timeout=30s");
  const table = await kubectl("get", "tkp", "-n", ns.name);
  console.log(`# Ready after ${Date.now() - started} ms\n${table.replace(/^/gm, "# ")}`);
  assert.match(
    table.split("\n")[0] ?? "",
    /NAME\s+SECRET\s+INTERVAL\s+ACTIVE KEY\s+NEXT ROTATION\s+READY\s+AGE/,
  );
  assert.match(table.split("\n")[1] ?? "", /^web\s+web-ticket-keys\s+1h\s+[0-9a-f]{8}\s+\S+Z\s+True\s+/);
});
