/**
 * The command as the image ships it: the bundle of scripts/bundle.ts (an entry module and its
 * chunks, every dependency inside) with the image's NODE_OPTIONS, run as an executable. It reconciles a policy to Ready and writes
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
import { bundle, noticesName } from "../../scripts/bundle.ts";
import { imageNodeOptions } from "../../scripts/image.ts";
import { adminConfig, tempNamespace } from "../../harness/cluster/kube.ts";
import { installCrd, policies, startController, waitForCondition } from "../../harness/operator/operator.ts";

const run = promisify(execFile);
const kc = adminConfig();
let dir: string;
let bin: string;

let ns: Awaited<ReturnType<typeof tempNamespace>> | undefined;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tko-bundle-"));
  bin = await bundle(dir);
  await installCrd(kc);
  ns = await tempNamespace(kc, "bundle");
});
after(async () => {
  try {
    await ns?.remove();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it("the bundled controller, with the image's heap limits, makes a policy Ready and writes its Secret", async () => {
  const namespace = ns?.name ?? "";
  const env = { NODE_OPTIONS: imageNodeOptions() };
  const controller = startController(namespace, [], env, bin);
  try {
    await policies(kc).create(namespace, "web", { rotationInterval: "1h" });
    const policy = await waitForCondition(kc, namespace, "web", { status: "True" });
    const secret = await kc
      .makeApiClient(k8s.CoreV1Api)
      .readNamespacedSecret({ namespace, name: policy.status?.secretName ?? "web-ticket-keys" });
    assert.ok(secret.data?.["ring.json"], "the Secret holds ring.json");
    const notices = await readFile(path.join(dir, noticesName), "utf8");
    assert.match(
      notices,
      /^@kubernetes\/client-node@\S+ \(Apache-2\.0\)$/m,
      "the licences ship beside the bundle",
    );
    assert.match(notices, /Apache License/);
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

it("the bundle is an executable (the image's ENTRYPOINT runs it by its shebang); its sidecar subcommand answers", async () => {
  // `#!/usr/bin/env node` finds the pinned Node first on PATH.
  const PATH = `${path.dirname(process.execPath)}:${process.env["PATH"] ?? ""}`;
  const { stdout } = await run(bin, ["sidecar", "--help"], { env: { ...process.env, PATH } });
  assert.match(stdout, /^Usage: ticket-key-operator sidecar/);
});
