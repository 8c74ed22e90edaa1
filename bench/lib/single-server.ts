/**
 * One TLS server process on its own (no balancer), for the scenarios that compare servers
 * one to one: a plain tls.Server without the library (harness/fleet/plain-server.ts), or a library
 * replica (harness/fleet/replica.ts) in single-key or router mode following a ring directory.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { activeKey, nextRing, renderNodeKey, type Ring } from "../../src/core/index.ts";
import type { ServerCert } from "../../harness/tls/certs.ts";
import { ringDirectories, writeRing } from "../../harness/fleet/fleet.ts";
import { spawnBound } from "../../harness/spawn.ts";

export interface ServerProcess {
  name: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

async function spawnServer(name: string, script: string, args: readonly string[]): Promise<ServerProcess> {
  const child: ChildProcess = spawnBound(process.execPath, [script, "--id", name, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        const message = JSON.parse(line) as { ready?: boolean; port?: number; error?: string };
        if (message.ready === true) resolve(message.port ?? 0);
        if (message.error !== undefined) reject(new Error(`${name}: ${message.error}`));
      } catch {
        // a log line
      }
    });
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code ?? "a signal"}`)));
  });
  return {
    name,
    port,
    pid: child.pid ?? 0,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** A ring that does not rotate during a benchmark (1 h interval). */
export function steadyRing(): Ring {
  return nextRing({
    previous: undefined,
    spec: { rotationIntervalMs: 3_600_000, retiredKeys: 1, suspend: false },
    now: Date.now(),
    random: randomBytes,
  }).ring;
}

/**
 * A plain tls.Server holding the ring's active key (the same 48 bytes the library would set);
 * with `peek`, behind the router's handover alone (harness/fleet/plain-server.ts --peek).
 */
export function startPlainServer(
  cert: ServerCert,
  ring: Ring,
  options: { peek?: boolean } = {},
): Promise<ServerProcess> {
  const key = activeKey(ring, Date.now()) ?? ring.keys[0];
  if (key === undefined) throw new Error("empty ring");
  const peek = options.peek === true;
  return spawnServer(peek ? "plain tls.Server + peek" : "plain tls.Server", "harness/fleet/plain-server.ts", [
    ...(peek ? ["--peek"] : []),
    "--cert",
    cert.certPath,
    "--key",
    cert.keyPath,
    "--ticket-key",
    renderNodeKey(key).toString("hex"),
  ]);
}

/** A library replica (single-key or router mode) following `ring` in its own directory. */
export async function startLibraryServer(
  mode: "single" | "router",
  cert: ServerCert,
  ring: Ring,
): Promise<ServerProcess> {
  const [dir] = await ringDirectories(1);
  await writeRing(dir!, ring);
  return spawnServer(mode === "router" ? "router" : "single-key", "harness/fleet/replica.ts", [
    "--mode",
    mode,
    "--cert",
    cert.certPath,
    "--key",
    cert.keyPath,
    "--directory",
    dir!,
  ]);
}
