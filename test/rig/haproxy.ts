/**
 * Real HAProxy instances for the sidecar tests: `haproxy -db` (foreground) per replica, its config
 * in a temp directory, terminating TLS on a loopback port (mode tcp) in front of a tiny backend
 * that writes the replica's id and closes, so HAProxy speaks first and the rig's Node client
 * (test/rig/client.ts) works unchanged. Its ticket keys: `tls-ticket-keys <keys file>` (the
 * sidecar's haproxy.keys, or random keys for the baseline); its runtime API: an admin stats
 * socket in the temp directory.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { connect } from "node:tls";
import { spawnBound } from "../support/spawn.ts";
import { startBalancer, type Balancer } from "./balancer.ts";
import type { ServerCert } from "./certs.ts";
import { freePort } from "./nginx.ts";
import { startSidecar, waitUntilReady, type SidecarProcess } from "./server-sidecar.ts";

export const haproxyBinary = "/usr/sbin/haproxy";

export interface ReplyBackend {
  port: number;
  close(): Promise<void>;
}

/** A plain TCP server that writes `reply` to every connection and closes it. */
export async function startReplyBackend(reply: string): Promise<ReplyBackend> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    socket.end(reply);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return {
    port: typeof address === "object" && address !== null ? address.port : 0,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface HaproxyInstance {
  id: string;
  port: number;
  dir: string;
  socketPath: string;
  keysFile: string;
  child: ChildProcess;
  log: string[];
  stop(): Promise<void>;
}

export function haproxyConfig(options: {
  dir: string;
  port: number;
  pem: string;
  keysFile: string;
  socketPath: string;
  backendPort: number;
}): string {
  return `global
  stats socket ${options.socketPath} mode 600 level admin
  nbthread 1
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend tls
  bind 127.0.0.1:${options.port} ssl crt ${options.pem} tls-ticket-keys ${options.keysFile}
  default_backend reply
backend reply
  server reply 127.0.0.1:${options.backendPort}
`;
}

/** A new directory for one HAProxy; its admin socket will be <dir>/admin.sock. */
export function haproxyDir(id: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `tko-haproxy-${id}-`));
}

/** A tls-ticket-keys file of 3 random keys (the per-replica baseline). */
export async function randomHaproxyKeys(file: string, size = 80): Promise<void> {
  const lines = Array.from({ length: 3 }, () => `${randomBytes(size).toString("base64")}\n`).join("");
  await writeFile(file, lines, { mode: 0o600 });
}

async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1", rejectUnauthorized: false });
    socket.once("secureConnect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Starts HAProxy on a free port, reading its keys from `keysFile` (which must exist), in front
 * of `backendPort`; resolves once TLS answers.
 */
export async function startHaproxy(options: {
  id: string;
  cert: ServerCert;
  keysFile: string;
  backendPort: number;
  /** its directory (config, certificate, admin.sock); default a new temp directory */
  dir?: string;
}): Promise<HaproxyInstance> {
  const dir = options.dir ?? (await haproxyDir(options.id));
  const port = await freePort();
  const pem = join(dir, "server.pem");
  await writeFile(pem, Buffer.concat([options.cert.cert, options.cert.key]), { mode: 0o600 });
  const socketPath = join(dir, "admin.sock");
  const conf = join(dir, "haproxy.cfg");
  await writeFile(
    conf,
    haproxyConfig({
      dir,
      port,
      pem,
      keysFile: options.keysFile,
      socketPath,
      backendPort: options.backendPort,
    }),
  );
  const child = spawnBound(haproxyBinary, ["-f", conf, "-db"], { stdio: ["ignore", "pipe", "pipe"] });
  const log: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on("line", (line) => {
      log.push(line);
      if (log.length > 500) log.shift();
      if (process.env["TKO_TEST_VERBOSE"]) console.log(`  [haproxy ${options.id}] ${line}`);
    });
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  const deadline = Date.now() + 10_000;
  while (!(await accepting(port))) {
    if (child.exitCode !== null) throw new Error(`haproxy ${options.id} exited: ${log.join("\n")}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy ${options.id} did not start: ${log.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { id: options.id, port, dir, socketPath, keysFile: options.keysFile, child, log, stop };
}

export interface HaproxyReplica {
  id: string;
  haproxy: HaproxyInstance;
  backend: ReplyBackend;
  /** the sidecar's --out (holds haproxy.keys) */
  keyDir: string;
  sidecar?: SidecarProcess;
}

export interface HaproxyFleet {
  replicas: HaproxyReplica[];
  balancer: Balancer;
  stop(): Promise<void>;
}

/**
 * `count` HAProxy replicas behind a round-robin balancer, each with its own sidecar process
 * (`--server haproxy --out <its key dir> --haproxy-socket <its admin socket>` plus
 * `sidecarArgs(i)`), or with its own random keys (keys "per-replica", the baseline). The sidecar
 * starts first and writes haproxy.keys, HAProxy starts from it, then the sidecar checks HAProxy's
 * runtime keys.
 */
export async function startHaproxyFleet(options: {
  cert: ServerCert;
  count?: number;
  keys: "per-replica" | { sidecarArgs: (index: number) => string[] };
}): Promise<HaproxyFleet> {
  const replicas: HaproxyReplica[] = [];
  let balancer: Balancer | undefined;
  const stop = async (): Promise<void> => {
    await balancer?.close();
    await Promise.all(
      replicas.flatMap((r) => [r.haproxy.stop(), r.sidecar?.stop() ?? Promise.resolve(), r.backend.close()]),
    );
  };
  try {
    await Promise.all(
      Array.from({ length: options.count ?? 3 }, async (_, i) => {
        const id = `h${i + 1}`;
        const keyDir = await mkdtemp(join(tmpdir(), `tko-keys-${id}-`));
        const dir = await haproxyDir(id);
        const keysFile = join(keyDir, "haproxy.keys");
        const backend = await startReplyBackend(id);
        let sidecar: SidecarProcess | undefined;
        if (options.keys === "per-replica") {
          await randomHaproxyKeys(keysFile);
        } else {
          sidecar = await startSidecar(id, [
            "--server=haproxy",
            `--out=${keyDir}`,
            `--haproxy-socket=${join(dir, "admin.sock")}`,
            "--max-backoff=2s",
            ...options.keys.sidecarArgs(i),
          ]);
          await waitUntilReady(sidecar);
        }
        const haproxy = await startHaproxy({
          id,
          cert: options.cert,
          keysFile,
          backendPort: backend.port,
          dir,
        });
        replicas.push({ id, haproxy, backend, keyDir, ...(sidecar ? { sidecar } : {}) });
        await sidecar?.waitForLog((l) => l.msg?.startsWith("ticket keys applied") === true);
      }),
    );
    replicas.sort((a, b) => a.id.localeCompare(b.id));
    balancer = await startBalancer(replicas.map((r) => r.haproxy.port));
    return { replicas, balancer, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
