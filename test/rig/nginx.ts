/**
 * Real nginx instances for the sidecar tests: one `nginx -g 'daemon off;'` process per replica
 * (its master is the spawned process), its prefix and config in a temp directory, terminating
 * TLS on a loopback port and answering every request with the replica's id. Its session ticket
 * keys are the files nginx-0.key .. nginx-<slots-1>.key of a key directory (the sidecar's --out,
 * or random per-replica files for the baseline); no session cache, so resumption is tickets only.
 *
 * Debian's nginx 1.22 has no stream module here, so nginx speaks HTTP and waits for a request:
 * clients send httpRequest after each handshake.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { createInterface } from "node:readline";
import { spawnBound } from "../support/spawn.ts";
import { startBalancer, type Balancer } from "./balancer.ts";
import type { ServerCert } from "./certs.ts";
import { startSidecar, waitUntilReady, type SidecarProcess } from "./server-sidecar.ts";

export const nginxBinary = "/usr/sbin/nginx";
/** What the rig's clients send to nginx. */
export const httpRequest = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";

export interface NginxInstance {
  id: string;
  port: number;
  prefix: string;
  pidFile: string;
  keyDir: string;
  child: ChildProcess;
  /** nginx's error log (stderr), for diagnostics */
  log: string[];
  /** the master's pid */
  readonly pid: number;
  stop(): Promise<void>;
}

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

export function nginxConfig(options: {
  id: string;
  prefix: string;
  port: number;
  cert: ServerCert;
  keyDir: string;
  slots: number;
}): string {
  const { id, prefix, port, cert, keyDir, slots } = options;
  const keys = Array.from(
    { length: slots },
    (_, i) => `      ssl_session_ticket_key ${join(keyDir, `nginx-${i}.key`)};`,
  ).join("\n");
  return `pid ${join(prefix, "nginx.pid")};
error_log stderr notice;
worker_processes 1;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  keepalive_timeout 0;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${cert.certPath};
    ssl_certificate_key ${cert.keyPath};
    ssl_protocols TLSv1.2 TLSv1.3;
    # Tickets only: no session cache to flatter the numbers.
    ssl_session_cache off;
    ssl_session_tickets on;
    ssl_session_timeout 1h;
    # Slot 0 encrypts; every slot decrypts.
${keys}
    location / { return 200 "${id}"; }
  }
}
`;
}

/** A new prefix directory; nginx writes its pid to <prefix>/nginx.pid. */
export function nginxPrefix(id: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `tko-nginx-${id}-`));
}

/** Writes `slots` random key files (the per-replica baseline: each nginx with its own keys). */
export async function randomNginxKeys(dir: string, slots: number, size = 80): Promise<void> {
  await Promise.all(
    Array.from({ length: slots }, (_, i) =>
      writeFile(join(dir, `nginx-${i}.key`), randomBytes(size), { mode: 0o600 }),
    ),
  );
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

/** Starts nginx on a free port; resolves once its master wrote its pid and TLS answers. */
export async function startNginx(options: {
  id: string;
  cert: ServerCert;
  keyDir: string;
  slots: number;
  /** its prefix directory (nginx.conf, nginx.pid); default a new temp directory */
  prefix?: string;
}): Promise<NginxInstance> {
  const prefix = options.prefix ?? (await nginxPrefix(options.id));
  await mkdir(join(prefix, "logs"), { recursive: true });
  const port = await freePort();
  const conf = join(prefix, "nginx.conf");
  await writeFile(conf, nginxConfig({ ...options, prefix, port }));
  const child = spawnBound(nginxBinary, ["-p", prefix, "-c", conf, "-g", "daemon off;"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const log: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (line) => {
    log.push(line);
    if (log.length > 500) log.shift();
    if (process.env["TKO_TEST_VERBOSE"]) console.log(`  [nginx ${options.id}] ${line}`);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const pidFile = join(prefix, "nginx.pid");
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx ${options.id} exited: ${log.join("\n")}`);
    const written = await readFile(pidFile, "utf8").catch(() => "");
    if (written.trim() !== "" && (await accepting(port))) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nginx ${options.id} did not start: ${log.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    id: options.id,
    port,
    prefix,
    pidFile,
    keyDir: options.keyDir,
    child,
    log,
    // setpriv execs nginx: the spawned pid is the master's.
    get pid() {
      return child.pid ?? 0;
    },
    stop,
  };
}

export interface NginxReplica {
  id: string;
  nginx: NginxInstance;
  /** the key directory nginx reads (the sidecar's --out) */
  keyDir: string;
  /** its sidecar, unless the replica has its own random keys */
  sidecar?: SidecarProcess;
}

export interface NginxFleet {
  replicas: NginxReplica[];
  balancer: Balancer;
  stop(): Promise<void>;
}

/**
 * `count` nginx replicas behind a round-robin balancer, each with its own sidecar process
 * (`--server nginx --out <its key dir> --nginx-pid-file <its pid file>` plus `sidecarArgs(i)`,
 * e.g. the source), or, with keys "per-replica", each with its own random key files (the
 * baseline). As in a pod with a native sidecar: the sidecar starts first and writes the key
 * files, then nginx starts from them, then the sidecar's first reload is confirmed.
 */
export async function startNginxFleet(options: {
  cert: ServerCert;
  count?: number;
  slots?: number;
  keys: "per-replica" | { sidecarArgs: (index: number) => string[] };
}): Promise<NginxFleet> {
  const slots = options.slots ?? 3;
  const replicas: NginxReplica[] = [];
  let balancer: Balancer | undefined;
  const stop = async (): Promise<void> => {
    await balancer?.close();
    await Promise.all(replicas.flatMap((r) => [r.nginx.stop(), r.sidecar?.stop() ?? Promise.resolve()]));
  };
  try {
    await Promise.all(
      Array.from({ length: options.count ?? 3 }, async (_, i) => {
        const id = `n${i + 1}`;
        const keyDir = await mkdtemp(join(tmpdir(), `tko-keys-${id}-`));
        const prefix = await nginxPrefix(id);
        let sidecar: SidecarProcess | undefined;
        if (options.keys === "per-replica") {
          await randomNginxKeys(keyDir, slots);
        } else {
          sidecar = await startSidecar(id, [
            "--server=nginx",
            `--out=${keyDir}`,
            `--nginx-pid-file=${join(prefix, "nginx.pid")}`,
            "--max-backoff=2s",
            ...options.keys.sidecarArgs(i),
          ]);
          await waitUntilReady(sidecar);
        }
        const nginx = await startNginx({ id, cert: options.cert, keyDir, slots, prefix });
        replicas.push({ id, nginx, keyDir, ...(sidecar ? { sidecar } : {}) });
        await sidecar?.waitForLog(
          (l) => l.msg?.startsWith("ticket keys applied") === true && l.action === "reloaded",
        );
      }),
    );
    replicas.sort((a, b) => a.id.localeCompare(b.id));
    balancer = await startBalancer(replicas.map((r) => r.nginx.port));
    return { replicas, balancer, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
