/**
 * Real HAProxy instances for the sidecar tests: `haproxy -db` (foreground) per replica, its config
 * in a temp directory, terminating TLS on a loopback port (mode tcp) in front of a tiny backend
 * that writes the replica's id and closes, so HAProxy speaks first and the rig's Node client
 * (harness/clients/client.ts) works unchanged. Its ticket keys: `tls-ticket-keys <keys file>` (the
 * sidecar's haproxy.keys, or random keys for the baseline); its runtime API: an admin stats
 * socket in the temp directory.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { base64Lines, haproxyFileName } from "../../src/core/index.ts";
import type { ServerCert } from "../tls/certs.ts";
import { freePort, startServerProcess } from "./server-process.ts";
import { startSidecarFleet, type FleetKeys, type FleetReplica, type SidecarFleet } from "../sidecar/fleet.ts";

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
  await writeFile(file, base64Lines(Array.from({ length: 3 }, () => randomBytes(size))), { mode: 0o600 });
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
  const server = await startServerProcess({
    name: `haproxy ${options.id}`,
    binary: haproxyBinary,
    args: ["-f", conf, "-db"],
    port,
  });
  return { id: options.id, port, dir, socketPath, keysFile: options.keysFile, ...server };
}

export interface HaproxyReplica extends FleetReplica {
  haproxy: HaproxyInstance;
  backend: ReplyBackend;
}

export type HaproxyFleet = SidecarFleet<HaproxyReplica>;

/**
 * `count` HAProxy replicas (startSidecarFleet), each in front of its reply backend; their
 * sidecars get `--haproxy-socket <its admin socket>` and write haproxy.keys, HAProxy starts from
 * it, then the sidecar checks HAProxy's runtime keys.
 */
export function startHaproxyFleet(options: {
  cert: ServerCert;
  count?: number;
  keys: FleetKeys;
}): Promise<HaproxyFleet> {
  return startSidecarFleet({
    server: "haproxy",
    idPrefix: "h",
    count: options.count ?? 3,
    keys: options.keys,
    stopReplica: (r) => [r.haproxy.stop(), r.backend.close()],
    prepare: async (id, keyDir) => {
      const dir = await haproxyDir(id);
      const keysFile = join(keyDir, haproxyFileName);
      const backend = await startReplyBackend(id);
      return {
        sidecarFlags: [`--haproxy-socket=${join(dir, "admin.sock")}`],
        randomKeys: () => randomHaproxyKeys(keysFile),
        start: async (sidecar) => {
          const haproxy = await startHaproxy({
            id,
            cert: options.cert,
            keysFile,
            backendPort: backend.port,
            dir,
          });
          return { id, port: haproxy.port, keyDir, haproxy, backend, ...(sidecar ? { sidecar } : {}) };
        },
        applied: (l) => l.msg?.startsWith("ticket keys applied") === true,
        discard: () => backend.close(),
      };
    },
  });
}
