/**
 * A real, local Kubernetes control plane for tests and the demo (the approach of
 * controller-runtime's envtest): etcd + kube-apiserver + kube-controller-manager (garbage
 * collector and namespace controllers only), on free loopback ports, in a temporary directory,
 * with a generated CA, RBAC authorization and a service-account signing key (so TokenRequest
 * works and tests can act as a ServiceAccount), and Secrets encrypted at rest (secretbox, a key
 * generated for the run: etcd never holds a ticket key in plain form). There is no kubelet: Pods
 * never run.
 *
 * Every process is started through `setpriv --pdeathsig SIGKILL`, so the kernel kills it if
 * this Node process dies for any reason, and `stop()` (also run on exit, SIGINT and SIGTERM)
 * terminates them in order. Nothing is left behind.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { openSync, closeSync, readFileSync, existsSync, rmSync } from "node:fs";
import { mkdtemp, mkdir, readFile, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { binaryPath, clusterBinaries, ensureBinaries, type Binary } from "./build.ts";
import { createPki, type Pki } from "./pki.ts";
import { spawnBound } from "../spawn.ts";

export interface LocalControlPlane {
  /** Admin kubeconfig (client certificate in group system:masters). */
  readonly kubeconfigPath: string;
  readonly server: string;
  /** gitVersion reported by the kube-apiserver's /version */
  readonly version: string;
  /** seconds from the call to start until /readyz answered ok (binaries already built) */
  readonly startSeconds: number;
  readonly dir: string;
  /** etcd's client URL (loopback, no TLS): tests read raw stored values through its API */
  readonly etcdUrl: string;
  /** whether Secrets are encrypted at rest (StartOptions.encryptSecrets) */
  readonly encryptSecrets: boolean;
  stop(): Promise<void>;
}

interface Proc {
  name: string;
  child: ChildProcess;
  logPath: string;
}

const running = new Set<Proc>();
let hooksInstalled = false;

function killAllNow(): void {
  for (const p of running) {
    try {
      p.child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  running.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killAllNow);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      killAllNow();
      process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
    });
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr !== null && typeof addr === "object") resolve(addr.port);
        else reject(new Error("no port"));
      });
    });
  });
}

function startProcess(dir: string, name: Binary, args: string[]): Proc {
  const logPath = join(dir, `${name}.log`);
  const fd = openSync(logPath, "a");
  const child = spawnBound(binaryPath(name), args, {
    cwd: dir,
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  const proc: Proc = { name, child, logPath };
  running.add(proc);
  child.once("exit", () => running.delete(proc));
  return proc;
}

function tail(path: string, lines = 30): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

async function stopProcess(proc: Proc): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.child.once("exit", () => resolve()));
  proc.child.kill("SIGTERM");
  const timedOut = await Promise.race([exited.then(() => false), sleep(5000).then(() => true)]);
  if (timedOut) {
    proc.child.kill("SIGKILL");
    await exited;
  }
}

async function httpGet(url: string, pki: Pki): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca: readFileSync(pki.caCert),
        cert: readFileSync(pki.adminCert),
        key: readFileSync(pki.adminKey),
        timeout: 2000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

async function waitFor(
  what: string,
  procs: Proc[],
  deadlineMs: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    for (const p of procs) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) {
        throw new Error(
          `${p.name} exited (${p.child.exitCode ?? p.child.signalCode}) while waiting for ${what}:\n${tail(p.logPath)}`,
        );
      }
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}:\n${procs.map((p) => `--- ${p.name}\n${tail(p.logPath)}`).join("\n")}`,
      );
    }
    await sleep(100);
  }
}

function kubeconfig(server: string, pki: Pki): string {
  const b64 = (path: string): string => readFileSync(path).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: local",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(pki.caCert)}`,
    "users:",
    "- name: admin",
    "  user:",
    `    client-certificate-data: ${b64(pki.adminCert)}`,
    `    client-key-data: ${b64(pki.adminKey)}`,
    "contexts:",
    "- name: local",
    "  context: {cluster: local, user: admin}",
    "current-context: local",
    "",
  ].join("\n");
}

export interface StartOptions {
  log?: (line: string) => void;
  /** where to keep the state; a fresh temporary directory by default (removed on stop) */
  dir?: string;
  /**
   * Encrypt Secrets at rest with an EncryptionConfiguration (default true). false stores them as
   * Kubernetes does without one (plain protobuf in etcd): only the test that shows the
   * difference uses it.
   */
  encryptSecrets?: boolean;
}

/**
 * The API server's EncryptionConfiguration: Secrets written with secretbox (XSalsa20-Poly1305)
 * under a 32-byte key generated for this control plane, read back with it; `identity` last so
 * that a value stored before encryption was on can still be read.
 */
export function encryptionConfiguration(key: Buffer): string {
  return [
    "apiVersion: apiserver.config.k8s.io/v1",
    "kind: EncryptionConfiguration",
    "resources:",
    "  - resources: [secrets]",
    "    providers:",
    "      - secretbox:",
    "          keys:",
    "            - name: local",
    `              secret: ${key.toString("base64")}`,
    "      - identity: {}",
    "",
  ].join("\n");
}

export async function startLocalControlPlane(options: StartOptions = {}): Promise<LocalControlPlane> {
  const log = options.log ?? (() => undefined);
  const encryptSecrets = options.encryptSecrets ?? true;
  await ensureBinaries(log, clusterBinaries);
  installExitHooks();
  const started = Date.now();
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "tko-control-plane-")));
  await mkdir(dir, { recursive: true });
  const procs: Proc[] = [];
  const stop = async (): Promise<void> => {
    for (const p of [...procs].reverse()) await stopProcess(p);
    if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const pki = await createPki(dir);
    const [etcdClient, etcdPeer, apiPort, kcmPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];

    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcd = startProcess(dir, "etcd", [
      "--name=local",
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=local=http://127.0.0.1:${etcdPeer}`,
      "--unsafe-no-fsync",
      "--log-level=warn",
    ]);
    procs.push(etcd);
    await waitFor("etcd /health", [etcd], 30_000, async () => (await fetch(`${etcdUrl}/health`)).ok);

    const server = `https://127.0.0.1:${apiPort}`;
    const encryption: string[] = [];
    if (encryptSecrets) {
      const path = join(dir, "encryption-config.yaml");
      await writeFile(path, encryptionConfiguration(randomBytes(32)), { mode: 0o600 });
      encryption.push(`--encryption-provider-config=${path}`);
    }
    const apiserver = startProcess(dir, "kube-apiserver", [
      ...encryption,
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, "apiserver-certs")}`,
      `--tls-cert-file=${pki.servingCert}`,
      `--tls-private-key-file=${pki.servingKey}`,
      `--client-ca-file=${pki.caCert}`,
      "--authorization-mode=RBAC",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      // The benchmarking range (RFC 2544), as every address of the project's clusters.
      "--service-cluster-ip-range=198.19.0.0/24",
      "--allow-privileged=true",
      "--profiling=false",
      "--v=0",
    ]);
    procs.push(apiserver);
    await waitFor("kube-apiserver /readyz", [etcd, apiserver], 90_000, async () => {
      const res = await httpGet(`${server}/readyz`, pki);
      return res.status === 200;
    });

    const kubeconfigPath = join(dir, "admin.kubeconfig");
    await writeFile(kubeconfigPath, kubeconfig(server, pki), { mode: 0o600 });
    procs.push(
      startProcess(dir, "kube-controller-manager", [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        "--controllers=garbagecollector,namespace",
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        `--secure-port=${kcmPort}`,
        "--v=0",
      ]),
    );
    const version = (JSON.parse((await httpGet(`${server}/version`, pki)).body) as { gitVersion: string })
      .gitVersion;
    const startSeconds = (Date.now() - started) / 1000;
    return { kubeconfigPath, server, version, startSeconds, dir, etcdUrl, encryptSecrets, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** True when `path` names a kubeconfig file that exists. */
export function existingKubeconfig(path: string | undefined): path is string {
  return path !== undefined && path !== "" && existsSync(path);
}

export async function readKubeconfigServer(path: string): Promise<string> {
  const text = await readFile(path, "utf8");
  return /server:\s*(\S+)/.exec(text)?.[1] ?? "(unknown server)";
}
