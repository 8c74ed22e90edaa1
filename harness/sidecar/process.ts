/**
 * `ticket-key-operator sidecar` as a child process for the tests (from the sources, or the bundle
 * TKO_OPERATOR_BIN names; with spawnBound: it dies with the test). Its JSON log lines are
 * kept (for assertions and the key-leak scan) and its /metrics and /readyz are read on the
 * loopback ports it reports in its "sidecar starting" line.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { keyId, renderKey, type Key } from "../../src/core/index.ts";
import { operatorArgs } from "../operator/command.ts";
import { spawnBound } from "../spawn.ts";
import type { ServerCert } from "../tls/certs.ts";
import { percent, runClient, summarize, type Handshake, type TlsVersion } from "../clients/client.ts";
import { runOpensslClient, runTicketProbes } from "../clients/openssl-client.ts";

export interface LogLine {
  level?: string;
  msg?: string;
  kind?: string;
  err?: string;
  action?: string;
  activeKey?: string;
  ms?: number;
  [field: string]: unknown;
}

export interface SidecarProcess {
  name: string;
  child: ChildProcess;
  /** every line it wrote (stdout and stderr) */
  lines: string[];
  /** its parsed JSON log lines */
  logs: LogLine[];
  /** GET /metrics */
  metrics(): Promise<string>;
  /** the sum of a metric's samples whose labels include `labels` */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  ready(): Promise<boolean>;
  /** resolves with the first log line (from `from` on) that matches */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number, from?: number): Promise<LogLine>;
  stop(): Promise<void>;
}

/** Parses Prometheus text: the sum of the samples of `name` whose labels include `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const have = new Map<string, string>();
    for (const m of (match[3] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have.set(m[1] ?? "", m[2] ?? "");
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(match[4]);
  }
  return sum;
}

export async function startSidecar(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<SidecarProcess> {
  const child = spawnBound(
    process.execPath,
    operatorArgs(["sidecar", ...args, "--metrics-address=127.0.0.1:0", "--health-address=127.0.0.1:0"]),
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } },
  );
  const lines: string[] = [];
  const logs: LogLine[] = [];
  const waiters = new Set<() => void>();
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on("line", (line) => {
      lines.push(line);
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ msg: line });
      }
      if (process.env["TKO_TEST_VERBOSE"]) console.log(`  [sidecar ${name}] ${line}`);
      for (const wake of waiters) wake();
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  const waitForLog = (
    predicate: (line: LogLine) => boolean,
    timeoutMs = 15_000,
    from = 0,
  ): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = logs.slice(from).find(predicate);
        if (found === undefined) return false;
        cleanup();
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `sidecar ${name}: no matching log line within ${timeoutMs} ms:\n${lines.slice(-20).join("\n")}`,
          ),
        );
      }, timeoutMs);
      const onExit = (): void => {
        cleanup();
        reject(new Error(`sidecar ${name} exited:\n${lines.slice(-20).join("\n")}`));
      };
      const wake = (): void => void check();
      const cleanup = (): void => {
        clearTimeout(timer);
        waiters.delete(wake);
        child.off("exit", onExit);
      };
      if (check()) return;
      waiters.add(wake);
      child.once("exit", onExit);
    });

  const starting = await waitForLog((l) => l.msg === "sidecar starting");
  const metricsAddress = String(starting["metrics"]);
  const healthAddress = String(starting["health"]);
  const get = async (address: string, path: string): Promise<Response> => fetch(`http://${address}${path}`);
  return {
    name,
    child,
    lines,
    logs,
    metrics: async () => (await get(metricsAddress, "/metrics")).text(),
    metric: async (metric, labels) =>
      metricValue(await (await get(metricsAddress, "/metrics")).text(), metric, labels),
    ready: async () => (await get(healthAddress, "/readyz")).status === 200,
    waitForLog,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Resolves once the sidecar's /readyz answers 200 (its renderings are written). */
export async function waitUntilReady(sidecar: SidecarProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await sidecar.ready().catch(() => false))) {
    if (sidecar.child.exitCode !== null)
      throw new Error(`sidecar ${sidecar.name} exited:\n${sidecar.lines.join("\n")}`);
    if (Date.now() > deadline)
      throw new Error(`sidecar ${sidecar.name} not ready:\n${sidecar.lines.slice(-20).join("\n")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ClientRun {
  /** "node TLSv1.2", "openssl TLSv1.3", ... */
  label: string;
  client: "node" | "openssl";
  version: TlsVersion;
  handshakes: Handshake[];
}

/**
 * Node and OpenSSL resumption clients, TLS 1.2 and TLS 1.3, all at once through one balancer:
 * `nodeLoops` runClient loops (harness/clients/client.ts) and `opensslLoops` s_client loops per
 * version; `request` is what they send after the handshake (nginx: an HTTP request; HAProxy here
 * speaks first).
 */
export async function driveClients(options: {
  port: number;
  cert: ServerCert;
  until: () => boolean;
  request?: string;
  nodeLoops?: number;
  opensslLoops?: number;
}): Promise<ClientRun[]> {
  const runs: Promise<ClientRun>[] = [];
  for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
    for (let i = 0; i < (options.nodeLoops ?? 2); i++) {
      runs.push(
        runClient({
          port: options.port,
          ca: options.cert.ca,
          version,
          until: options.until,
          pauseMs: 10,
          ...(options.request === undefined ? {} : { request: options.request }),
        }).then((handshakes) => ({ label: `node ${version}`, client: "node", version, handshakes })),
      );
    }
    for (let i = 0; i < (options.opensslLoops ?? 1); i++) {
      runs.push(
        runOpensslClient({
          port: options.port,
          caPath: options.cert.caPath,
          version,
          until: options.until,
          ...(options.request === undefined ? {} : { request: options.request }),
        }).then((handshakes) => ({ label: `openssl ${version}`, client: "openssl", version, handshakes })),
      );
    }
  }
  // Merge the loops of each label.
  const merged = new Map<string, ClientRun>();
  for (const run of await Promise.all(runs)) {
    const into = merged.get(run.label);
    if (into === undefined) merged.set(run.label, run);
    else into.handshakes.push(...run.handshakes);
  }
  return [...merged.values()];
}

/** The known keys by name (hex), with their latest instants. */
export type KeyBook = ReadonlyMap<string, Key>;

/** The key whose activeFrom <= at < activeUntil. */
export function activeAt(keys: KeyBook, at: number): Key | undefined {
  return [...keys.values()].find((k) => k.activeFrom <= at && at < k.activeUntil);
}

export interface Losses {
  /** reconnections not resumed whose offered ticket's key had expired (by design) */
  expired: number;
  /** ... whose key was still live: a server that should have resumed did not */
  live: number;
  unknown: number;
}

export function classifyLosses(handshakes: readonly Handshake[], keys: KeyBook): Losses {
  const losses: Losses = { expired: 0, live: 0, unknown: 0 };
  for (const h of handshakes) {
    if (!h.offered || h.resumed || h.error !== undefined) continue;
    const key = h.offeredKey === undefined ? undefined : keys.get(h.offeredKey);
    if (key === undefined) losses.unknown++;
    else if (h.at >= key.expiresAt - 50) losses.expired++;
    else losses.live++;
  }
  return losses;
}

export interface IssuedCheck {
  /** tickets issued (full handshakes and renewals) */
  checked: number;
  /** issued under the key active at that instant */
  active: number;
  /** issued under the key that stopped encrypting less than the tolerance before (a reload in progress) */
  late: number;
  maxLateMs: number;
  /**
   * issued under the pending key less than the tolerance before it activates (HAProxy between
   * the two runtime-API pushes of an update; every replica already holds that key)
   */
  early: number;
  /** anything else */
  wrong: { at: number; issued: string; expected: string | undefined }[];
}

/** Whether each ticket the servers issued is under the key active at that instant. */
export function checkIssuedKeys(
  handshakes: readonly Handshake[],
  keys: KeyBook,
  toleranceMs: number,
): IssuedCheck {
  const check: IssuedCheck = { checked: 0, active: 0, late: 0, maxLateMs: 0, early: 0, wrong: [] };
  for (const h of handshakes) {
    if (h.issuedKey === undefined) continue;
    check.checked++;
    const expected = activeAt(keys, h.at);
    const issued = keys.get(h.issuedKey);
    if (expected !== undefined && issued === expected) {
      check.active++;
    } else if (
      issued !== undefined &&
      issued.activeUntil <= h.at &&
      h.at - issued.activeUntil <= toleranceMs
    ) {
      check.late++;
      check.maxLateMs = Math.max(check.maxLateMs, h.at - issued.activeUntil);
    } else if (issued !== undefined && issued.activeFrom > h.at && issued.activeFrom - h.at <= toleranceMs) {
      check.early++;
    } else {
      check.wrong.push({ at: h.at, issued: h.issuedKey, expected: expected?.name.toString("hex") });
    }
  }
  return check;
}

/** Every form key material could take in a log line: names, seeds, renderings (hex and base64). */
export function keyMaterial(keys: Iterable<Key>): string[] {
  const out: string[] = [];
  for (const key of keys) {
    const renderings = [
      renderKey(key, "nginx", 80),
      renderKey(key, "nginx", 48),
      renderKey(key, "haproxy", 80),
      renderKey(key, "envoy", 80),
    ];
    for (const bytes of [key.name, key.seed, ...renderings]) {
      out.push(bytes.toString("hex"), bytes.toString("base64"));
      // a piece from the middle of a rendering (past the name)
      if (bytes.length > 32) out.push(bytes.subarray(20, 36).toString("hex"));
    }
  }
  return out;
}

/** The lines that hold any of `secrets` (should be none). */
export function linesWithKeyMaterial(lines: readonly string[], secrets: readonly string[]): string[] {
  return lines.filter((line) => secrets.some((secret) => line.includes(secret)));
}

export interface Measurement {
  runs: ClientRun[];
  /** fresh handshakes to each replica (runTicketProbes) */
  probes: Handshake[];
  startedAt: number;
  endedAt: number;
}

/**
 * Drives the clients (driveClients) through the balancer and probes every replica
 * (runTicketProbes) until `done()`, or fails after `timeoutMs`.
 */
export async function measure(options: {
  balancerPort: number;
  replicaPorts: number[];
  cert: ServerCert;
  request?: string;
  done: () => boolean;
  timeoutMs: number;
  nodeLoops?: number;
  opensslLoops?: number;
}): Promise<Measurement> {
  const startedAt = Date.now();
  const deadline = startedAt + options.timeoutMs;
  const state = { timedOut: false };
  const until = (): boolean => {
    if (Date.now() > deadline) state.timedOut = true;
    return state.timedOut || options.done();
  };
  const request = options.request === undefined ? {} : { request: options.request };
  const [runs, probes] = await Promise.all([
    driveClients({
      port: options.balancerPort,
      cert: options.cert,
      until,
      ...request,
      ...(options.nodeLoops === undefined ? {} : { nodeLoops: options.nodeLoops }),
      ...(options.opensslLoops === undefined ? {} : { opensslLoops: options.opensslLoops }),
    }),
    runTicketProbes({
      ports: options.replicaPorts,
      caPath: options.cert.caPath,
      until,
      everyMs: 1000,
      ...request,
    }),
  ]);
  if (state.timedOut) throw new Error(`not done within ${options.timeoutMs} ms`);
  return { runs, probes, startedAt, endedAt: Date.now() };
}

/** One line per client run: resumption rate, reconnections, losses by cause. */
export function describeRuns(runs: readonly ClientRun[], keys: KeyBook): string[] {
  return runs.map((run) => {
    const s = summarize(run.handshakes);
    const l = classifyLosses(run.handshakes, keys);
    const live = s.reconnections - l.expired;
    return `${run.label.padEnd(16)} ${percent(s.rate).padStart(7)} resumed of ${String(s.reconnections).padStart(5)} reconnections (full handshakes: ${l.expired} with an expired key, ${l.live} with a live key: ${percent(live === 0 ? 0 : s.resumed / live)} of those offering a live key; errors ${s.errors})`;
  });
}

/**
 * The checks of a shared-keys run, printed then asserted: per TLS version >= 99% of all the
 * clients' reconnections resumed; per client: enough reconnections, no error, no full handshake
 * with a ticket under a live key, >= 99% resumed (s_client TLS 1.2: of the reconnections that
 * offered a ticket not expired by design);
 * every ticket issued (clients and probes) under the active key, or under the key that stopped
 * less than `toleranceMs` before (a server still switching); probes saw >= 4 keys (before and
 * after each of 3 rotations); no key material in any sidecar's output.
 */
export function checkShared(
  what: string,
  sidecars: readonly SidecarProcess[],
  m: Measurement,
  keys: KeyBook,
  toleranceMs: number,
): void {
  for (const line of describeRuns(m.runs, keys)) console.log(`# ${what}: ${line}`);
  const issued = checkIssuedKeys([...m.runs.flatMap((r) => r.handshakes), ...m.probes], keys, toleranceMs);
  const probed = new Set(m.probes.map((p) => p.issuedKey).filter((k) => k !== undefined));
  console.log(
    `# ${what}: ${issued.checked} tickets issued: ${issued.active} under the active key, ${issued.late} under the key that had stopped <= ${issued.maxLateMs} ms before, ${issued.early} under the key about to start, ${issued.wrong.length} under another key; probes saw ${probed.size} keys`,
  );
  for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
    const all = summarize(m.runs.filter((r) => r.version === version).flatMap((r) => r.handshakes));
    console.log(
      `# ${what}: ${version}, every client: ${percent(all.rate)} resumed of ${all.reconnections} reconnections`,
    );
    assert.ok(all.rate >= 0.99, `${version}: ${percent(all.rate)} resumed`);
  }
  for (const run of m.runs) {
    const s = summarize(run.handshakes);
    const losses = classifyLosses(run.handshakes, keys);
    assert.equal(s.errors, 0, `${run.label}: errors`);
    assert.ok(s.reconnections >= 40, `${run.label}: only ${s.reconnections} reconnections`);
    assert.equal(losses.live, 0, `${run.label}: a ticket under a live key was refused`);
    // s_client cannot keep a ticket renewed on a TLS 1.2 resumption (see afterNextRotation): its
    // full handshakes with a ticket expired by design are set aside; every other client, raw.
    const structural = run.client === "openssl" && run.version === "TLSv1.2" ? losses.expired : 0;
    const rate = s.resumed / (s.reconnections - structural);
    assert.ok(rate >= 0.99, `${run.label}: ${percent(rate)} resumed`);
  }
  // A server that switched late or early by more than the tolerance (a loaded machine) still
  // issues tickets every replica can decrypt; a ticket under a key no longer (or not) in the
  // ring, or a server that mostly does not encrypt with the active key, is a failure.
  const dead = issued.wrong.filter((w) => {
    const key = keys.get(w.issued);
    return key === undefined || key.expiresAt <= w.at;
  });
  assert.deepEqual(dead, [], "tickets issued under a key that was not live");
  assert.ok(
    issued.active >= 0.9 * issued.checked,
    `only ${issued.active} of ${issued.checked} tickets issued under the active key`,
  );
  assert.ok(probed.size >= 4, `probes saw ${probed.size} keys: before and after each of 3 rotations`);
  assert.deepEqual(
    m.probes.filter((p) => p.error !== undefined).map((p) => p.error),
    [],
    "probe errors",
  );
  const secrets = keyMaterial(keys.values());
  for (const sidecar of sidecars) {
    assert.deepEqual(
      linesWithKeyMaterial(sidecar.lines, secrets),
      [],
      `key material in ${sidecar.name}'s output`,
    );
  }
}

/**
 * The key the servers encrypt with (probes: fresh handshakes to each replica) is the one the
 * policy's status names, before and after each rotation; they may disagree only around a
 * rotation instant (the controller writes the status a few ms after it; a server may still be
 * switching).
 */
export function checkAgainstStatus(
  what: string,
  m: Measurement,
  samples: readonly { at: number; activeKey: string }[],
  keys: KeyBook,
  toleranceMs: number,
): void {
  const instants = [...keys.values()].map((k) => k.activeFrom);
  let agreed = 0;
  const seen = new Set<string>();
  for (const sample of samples) {
    const near = m.probes.filter((p) => p.issuedKey !== undefined && Math.abs(p.at - sample.at) < 300);
    if (near.length === 0) continue;
    if (near.every((p) => keyId({ name: Buffer.from(p.issuedKey ?? "", "hex") }) === sample.activeKey)) {
      agreed++;
      seen.add(sample.activeKey);
    } else {
      const distance = Math.min(...instants.map((t) => Math.abs(t - sample.at)));
      assert.ok(
        distance < toleranceMs,
        `probes disagree with status.activeKey ${sample.activeKey} ${distance} ms from a rotation`,
      );
    }
  }
  console.log(
    `# ${what}: ${agreed} samples of status.activeKey agreed with the probes (${seen.size} distinct keys)`,
  );
  assert.ok(seen.size >= 4, "probes agree with status.activeKey before and after 3 rotations");
}

/**
 * Waits for the feeder's next rotation and for every sidecar to have applied it (its server
 * encrypts with the new active key); returns the rotation count. `openssl s_client` cannot keep
 * the ticket a server renews on a TLS 1.2 resumption (it saves sessions from OpenSSL's
 * new-session callback, which OpenSSL calls on a resumption only for TLS 1.3), so it keeps
 * offering its first ticket until that key expires, 2 intervals after it stopped encrypting
 * (retiredKeys 1): one full handshake every 2 intervals, by design (counted as "expired").
 * Measuring from just after a rotation on keeps that to one over 3 rotations.
 */
export async function afterNextRotation(
  feeder: { rotations: number; keys: KeyBook },
  sidecars: readonly SidecarProcess[],
): Promise<number> {
  const before = feeder.rotations;
  while (feeder.rotations === before) await new Promise((r) => setTimeout(r, 20));
  const active = activeAt(feeder.keys, Date.now());
  if (active !== undefined) {
    const id = keyId(active);
    await Promise.all(
      sidecars.map((s) =>
        s.waitForLog((l) => l.msg?.startsWith("ticket keys applied") === true && l.activeKey === id, 10_000),
      ),
    );
  }
  await new Promise((r) => setTimeout(r, 200));
  return feeder.rotations;
}

/** Waits for the next activation instant; returns the key that stopped and the one that started. */
export async function nextActivation(keys: KeyBook): Promise<{ previous: Key; active: Key }> {
  const previous = activeAt(keys, Date.now());
  if (previous === undefined) throw new Error("no active key");
  for (;;) {
    const active = activeAt(keys, Date.now());
    if (active !== undefined && !active.name.equals(previous.name)) return { previous, active };
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The time of a log line (pino's ISO "time"), epoch ms. */
export function logTime(line: LogLine): number {
  return Date.parse(typeof line["time"] === "string" ? line["time"] : "");
}
