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

it("kubectl apply refuses a policy the CRD's rules reject, naming the field, and stores nothing", async () => {
  await kubectl("apply", "-f", "crds/");
  const policy = (name: string, spec: string): string =>
    `apiVersion: ticketkeys.dev/v1alpha1\nkind: TicketKeyPolicy\nmetadata:\n  name: ${name}\n  namespace: ${ns.name}\nspec:\n${spec}\n`;
  const cases: { what: string; manifest: string; error: RegExp }[] = [
    {
      what: "an interval over 168h",
      manifest: policy("long", "  rotationInterval: 200h"),
      error: /spec\.rotationInterval: Invalid value: .*must be between 10s and 168h/,
    },
    {
      what: "an interval under 10s",
      manifest: policy("short", "  rotationInterval: 5s"),
      error: /spec\.rotationInterval: Invalid value: .*must be between 10s and 168h/,
    },
    {
      what: "a malformed interval",
      manifest: policy("typo", "  rotationInterval: 1day"),
      error: /spec\.rotationInterval: Invalid value: "1day": spec\.rotationInterval in body should match/,
    },
    {
      what: "a reserved label",
      manifest: policy("label", "  secretTemplate:\n    labels:\n      ticketkeys.dev/policy: other"),
      error:
        /spec\.secretTemplate\.labels: Invalid value: .*keys ticketkeys\.dev\/\* and app\.kubernetes\.io\/managed-by are reserved/,
    },
    {
      what: "a reserved annotation",
      manifest: policy(
        "annotation",
        "  secretTemplate:\n    annotations:\n      app.kubernetes.io/managed-by: me",
      ),
      error: /spec\.secretTemplate\.annotations: Invalid value: .*are reserved for the operator/,
    },
    {
      what: "a name over 63 characters",
      manifest: policy("n".repeat(64), "  rotationInterval: 1h"),
      error: /metadata\.name: must be at most 63 characters/,
    },
  ];
  for (const c of cases) {
    const applied = run(kubectlPath, ["apply", "-f", "-"]);
    applied.child.stdin?.end(c.manifest);
    const err = (await applied.then(
      () => undefined,
      (e: unknown) => e,
    )) as { stderr?: string } | undefined;
    assert.ok(err, `kubectl apply accepted ${c.what}`);
    const message = (err.stderr ?? "").trim();
    console.log(`# ${c.what}: ${message.split("\n").at(-1) ?? ""}`);
    assert.match(message, c.error, c.what);
  }
  const stored = await kubectl("get", "tkp", "-n", ns.name, "-o", "name");
  assert.doesNotMatch(stored, /long|short|typo|label|annotation|nnnn/, "nothing refused was stored");
});
