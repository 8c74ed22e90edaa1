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
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nginxSlotName } from "../../src/core/index.ts";
import type { ServerCert } from "../tls/certs.ts";
import { freePort, startServerProcess } from "./server-process.ts";
import { startSidecarFleet, type FleetKeys, type FleetReplica, type SidecarFleet } from "../sidecar/fleet.ts";

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
  /** its output (the error log goes to stderr), for diagnostics */
  log: string[];
  /** the master's pid */
  readonly pid: number;
  stop(): Promise<void>;
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
    (_, i) => `      ssl_session_ticket_key ${join(keyDir, nginxSlotName(i))};`,
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
      writeFile(join(dir, nginxSlotName(i)), randomBytes(size), { mode: 0o600 }),
    ),
  );
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
  const pidFile = join(prefix, "nginx.pid");
  const server = await startServerProcess({
    name: `nginx ${options.id}`,
    binary: nginxBinary,
    args: ["-p", prefix, "-c", conf, "-g", "daemon off;"],
    port,
    ready: async () => (await readFile(pidFile, "utf8").catch(() => "")).trim() !== "",
  });
  return {
    id: options.id,
    port,
    prefix,
    pidFile,
    keyDir: options.keyDir,
    ...server,
    // setpriv execs nginx: the spawned pid is the master's.
    get pid() {
      return server.child.pid ?? 0;
    },
  };
}

export interface NginxReplica extends FleetReplica {
  nginx: NginxInstance;
}

export type NginxFleet = SidecarFleet<NginxReplica>;

/**
 * `count` nginx replicas (startSidecarFleet) with `slots` key files each; their sidecars get
 * `--nginx-pid-file <its pid file>`, and a sidecar's first update is confirmed by nginx's reload.
 */
export function startNginxFleet(options: {
  cert: ServerCert;
  count?: number;
  slots?: number;
  keys: FleetKeys;
}): Promise<NginxFleet> {
  const slots = options.slots ?? 3;
  return startSidecarFleet({
    server: "nginx",
    idPrefix: "n",
    count: options.count ?? 3,
    keys: options.keys,
    stopReplica: (r) => [r.nginx.stop()],
    prepare: async (id, keyDir) => {
      const prefix = await nginxPrefix(id);
      return {
        sidecarFlags: [`--nginx-pid-file=${join(prefix, "nginx.pid")}`],
        randomKeys: () => randomNginxKeys(keyDir, slots),
        start: async (sidecar) => {
          const nginx = await startNginx({ id, cert: options.cert, keyDir, slots, prefix });
          return { id, port: nginx.port, keyDir, nginx, ...(sidecar ? { sidecar } : {}) };
        },
        applied: (l) => l.msg?.startsWith("ticket keys applied") === true && l.action === "reloaded",
      };
    },
  });
}
