/**
 * A real TLS server (nginx, HAProxy) as a child process of the sidecar tests (spawnBound: it dies
 * with the test), on a free loopback port: its output lines kept (the last 500, for
 * diagnostics), and started once TLS answers on its port.
 */
import type { ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { connect } from "node:tls";
import { spawnBound } from "../spawn.ts";

/** A free loopback port (closed again: nginx and HAProxy bind it themselves). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether a TLS handshake on `port` succeeds (any certificate) within a second. */
async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1", rejectUnauthorized: false });
    const answer = (up: boolean): void => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(1000, () => answer(false));
    socket.once("secureConnect", () => answer(true));
    socket.once("error", () => answer(false));
  });
}

export interface ServerProcess {
  child: ChildProcess;
  /** its output (stdout and stderr), the last 500 lines */
  log: string[];
  /** SIGTERM, and resolves once it exited */
  stop(): Promise<void>;
}

/**
 * Spawns `binary args` (which serves TLS on `port`) and resolves once it is `ready()` (default:
 * always) and TLS answers on `port`; fails if it exits first or is not up within 10 s.
 */
export async function startServerProcess(options: {
  /** "nginx n1", "haproxy h1": in its verbose output and in errors */
  name: string;
  binary: string;
  args: string[];
  port: number;
  ready?: () => Promise<boolean>;
}): Promise<ServerProcess> {
  const { name, port } = options;
  const child = spawnBound(options.binary, options.args, { stdio: ["ignore", "pipe", "pipe"] });
  const log: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on("line", (line) => {
      log.push(line);
      if (log.length > 500) log.shift();
      if (process.env["TKO_TEST_VERBOSE"]) console.log(`  [${name}] ${line}`);
    });
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited (${String(child.exitCode ?? child.signalCode)}): ${log.join("\n")}`);
    }
    if ((options.ready === undefined || (await options.ready())) && (await accepting(port))) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} did not start: ${log.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, log, stop };
}
