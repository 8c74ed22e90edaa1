/**
 * The command as the image ships it: the bundle of scripts/bundle.ts (one module, every
 * dependency inside) with the image's NODE_OPTIONS. It reconciles a policy to Ready and writes
 * its Secret, its sidecar subcommand answers, and its logs are the same JSON lines.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, it } from "node:test";
import { promisify } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { bundle } from "../../scripts/bundle.ts";
import { imageNodeOptions } from "../../scripts/image.ts";
import { adminConfig, tempNamespace } from "../support/kube.ts";
import { installCrd, policies, startController, waitForCondition } from "../support/operator.ts";

const run = promisify(execFile);
const kc = adminConfig();
let dir: string;
let bin: string;
let ns: Awaited<ReturnType<typeof tempNamespace>>;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tko-bundle-"));
  bin = await bundle(dir);
  await installCrd(kc);
  ns = await tempNamespace(kc, "bundle");
});
after(async () => {
  await ns.remove();
  await rm(dir, { recursive: true, force: true });
});

it("the bundled controller, with the image's heap limits, makes a policy Ready and writes its Secret", async () => {
  const env = { NODE_OPTIONS: imageNodeOptions() };
  const controller = startController(ns.name, [], env, bin);
  try {
    await policies(kc).create(ns.name, "web", { rotationInterval: "1h" });
    const policy = await waitForCondition(kc, ns.name, "web", { status: "True" });
    const secret = await kc
      .makeApiClient(k8s.CoreV1Api)
      .readNamespacedSecret({ namespace: ns.name, name: policy.status?.secretName ?? "web-ticket-keys" });
    assert.ok(secret.data?.["ring.json"], "the Secret holds ring.json");
    const status = await readFile(`/proc/${String(controller.child.pid)}/status`, "utf8");
    console.log(`# bundled controller: ${/VmHWM:\s+(\d+ kB)/.exec(status)?.[1] ?? "?"} peak resident`);
    const logs = controller.lines.map((line) => JSON.parse(line) as { name?: string; msg?: string });
    assert.ok(
      logs.length > 0 && logs.every((l) => l.name === "controller"),
      "JSON log lines of the controller",
    );
  } finally {
    await controller.stop();
  }
  assert.equal(controller.child.exitCode, 0, "SIGTERM: a clean exit");
});

it("the bundle's sidecar subcommand answers --help", async () => {
  const { stdout } = await run(process.execPath, [bin, "sidecar", "--help"]);
  assert.match(stdout, /^Usage: ticket-key-operator sidecar/);
});
