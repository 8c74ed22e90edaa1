/**
 * What the sidecar tests measure through a fleet of real servers: Node and OpenSSL resumption
 * clients through the balancer with fresh-handshake probes of every replica (measure), and the
 * checks of a shared-keys run against the schedule's keys and the policy's status.
 */
import assert from "node:assert/strict";
import { keyId } from "../../src/core/index.ts";
import { percent, runClient, summarize, type Handshake, type TlsVersion } from "../clients/client.ts";
import { runOpensslClient, runTicketProbes } from "../clients/openssl-client.ts";
import { activeAt, checkIssuedKeys, classifyLosses, type KeyBook } from "../keys.ts";
import { findLeaks, keyNeedles } from "../leaks.ts";
import type { ServerCert } from "../tls/certs.ts";
import type { SidecarProcess } from "./process.ts";

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
  const secrets = keyNeedles(keys.values());
  for (const sidecar of sidecars)
    assert.deepEqual(findLeaks(sidecar.lines, secrets), [], `key material in ${sidecar.name}'s output`);
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
