/**
 * `npm run cluster` as a user (or a supervisor) runs it: stopped by a signal to npm alone, the
 * control plane it started must not outlive it (npm does not pass the signal on, and the Node
 * process under it used to keep etcd and the API server running).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { it } from "node:test";
import { waitUntil } from "../../harness/cluster/kube.ts";

/** Every descendant of `pid`, from /proc. */
function descendants(pid: number): { pid: number; command: string }[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: { pid: number; command: string }[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      let command: string;
      try {
        command = readFileSync(`/proc/${c}/cmdline`, "utf8").split("\0").slice(0, 2).join(" ");
      } catch {
        continue;
      }
      out.push({ pid: c, command });
      walk(c);
    }
  };
  walk(pid);
  return out;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it("`npm run cluster` stopped by SIGTERM to npm alone leaves no process behind", async () => {
  const npm = spawn("npm", ["run", "--silent", "cluster"], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  npm.stdout.on("data", (d: Buffer) => (output += d.toString()));
  npm.stderr.on("data", (d: Buffer) => (output += d.toString()));
  let tree: { pid: number; command: string }[] = [];
  try {
    await waitUntil(
      "the control plane to be up",
      () => Promise.resolve(output.includes("Press Ctrl-C")),
      120_000,
    );
    tree = descendants(npm.pid!);
    const names = tree.map((p) => p.command);
    assert.ok(
      names.some((c) => c.includes("kube-apiserver")) && names.some((c) => c.includes("etcd")),
      names.join("\n"),
    );
    process.kill(npm.pid!, "SIGTERM");
    const started = Date.now();
    await waitUntil(
      "every process npm run cluster started to exit",
      () => Promise.resolve(tree.every((p) => !alive(p.pid))),
      20_000,
    );
    console.log(
      `# SIGTERM to npm (pid ${npm.pid}): all ${tree.length} processes under it gone after ${Date.now() - started} ms`,
    );
  } finally {
    // whatever happened, nothing of this test stays
    for (const p of tree) if (alive(p.pid)) process.kill(p.pid, "SIGKILL");
    try {
      process.kill(-npm.pid!, "SIGKILL");
    } catch {
      // the group is gone
    }
  }
});
