/**
 * The kind suite's client. For each target (a Service's host:port) and each TLS version it
 * reconnects continuously, offering the session (ticket) of the previous connection, makes one
 * HTTP request, and counts the reconnections that resumed. Behind a Service every reconnection
 * lands on any replica, so a resumption rate near 100% means every replica decrypts every
 * other replica's tickets, through the rotations that happen meanwhile.
 *
 * Node built-ins only: it runs in a pod of the e2e image (`node /app/e2e/client.ts`) and, as a
 * self-check, anywhere: `node test/e2e/kind/client.ts --target=localhost:8443 --duration=5s`.
 * Progress goes to stderr; the last stdout line is `RESULT <json>` (see ClientReport).
 */
import { connect, type SecureVersion } from "node:tls";
import { parseArgs } from "node:util";

export interface TargetReport {
  target: string;
  version: SecureVersion;
  /** connections that offered a session (the first connection of a loop offers none) */
  reconnections: number;
  resumed: number;
  errors: number;
  firstErrors: string[];
  /** per bucket of `bucketSeconds`: reconnections and resumed */
  timeline: { at: string; reconnections: number; resumed: number }[];
}

export interface ClientReport {
  startedAt: string;
  endedAt: string;
  bucketSeconds: number;
  results: TargetReport[];
}

export const resultPrefix = "RESULT ";

interface Outcome {
  resumed: boolean;
  session: Buffer | undefined;
}

/** One connection: handshake (offering `session`), one request, read to the end. */
function connectOnce(
  host: string,
  port: number,
  version: SecureVersion,
  session: Buffer | undefined,
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    let latest: Buffer | undefined;
    let resumed = false;
    const socket = connect({
      host,
      port,
      servername: /^[\d.]+$/.test(host) ? undefined : host,
      minVersion: version,
      maxVersion: version,
      // The suite's certificate comes from a throwaway CA; what is measured is resumption, not identity.
      rejectUnauthorized: false,
      ...(session === undefined ? {} : { session }),
    });
    socket.setTimeout(5000, () => socket.destroy(new Error("timed out")));
    // TLS 1.3 tickets arrive after the handshake, TLS 1.2 ones during it: keep the last.
    socket.on("session", (s: Buffer) => (latest = s));
    socket.once("secureConnect", () => {
      resumed = socket.isSessionReused();
      socket.end(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    });
    socket.on("data", () => undefined);
    socket.once("error", reject);
    socket.once("close", (hadError) => {
      if (!hadError) resolve({ resumed, session: latest });
    });
  });
}

export async function measure(
  target: string,
  version: SecureVersion,
  durationMs: number,
  bucketSeconds: number,
): Promise<TargetReport> {
  const colon = target.lastIndexOf(":");
  const host = target.slice(0, colon);
  const port = Number(target.slice(colon + 1));
  const report: TargetReport = {
    target,
    version,
    reconnections: 0,
    resumed: 0,
    errors: 0,
    firstErrors: [],
    timeline: [],
  };
  const started = Date.now();
  let session: Buffer | undefined;
  while (Date.now() - started < durationMs) {
    const bucketIndex = Math.floor((Date.now() - started) / (bucketSeconds * 1000));
    const bucket = (report.timeline[bucketIndex] ??= {
      at: new Date(started + bucketIndex * bucketSeconds * 1000).toISOString(),
      reconnections: 0,
      resumed: 0,
    });
    try {
      const offered = session !== undefined;
      const outcome = await connectOnce(host, port, version, session);
      if (offered) {
        report.reconnections++;
        bucket.reconnections++;
        if (outcome.resumed) {
          report.resumed++;
          bucket.resumed++;
        }
      }
      session = outcome.session ?? session;
    } catch (err) {
      report.errors++;
      if (report.firstErrors.length < 5) report.firstErrors.push(String(err));
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  // Buckets never reached (no connection started in them) stay empty: fill them for plotting.
  for (let i = 0; i < report.timeline.length; i++) {
    report.timeline[i] ??= {
      at: new Date(started + i * bucketSeconds * 1000).toISOString(),
      reconnections: 0,
      resumed: 0,
    };
  }
  return report;
}

const percent = (r: TargetReport): string =>
  r.reconnections === 0 ? "-" : `${((100 * r.resumed) / r.reconnections).toFixed(2)}%`;

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      target: { type: "string", multiple: true },
      version: { type: "string", multiple: true },
      duration: { type: "string", default: "60s" },
      bucket: { type: "string", default: "5" },
    },
  });
  const targets = values.target ?? [];
  if (targets.length === 0) throw new Error("--target host:port is required (repeatable)");
  const versions = (values.version ?? ["TLSv1.2", "TLSv1.3"]) as SecureVersion[];
  const durationMs = Number(/^(\d+)s$/.exec(values.duration)?.[1] ?? NaN) * 1000;
  if (!Number.isFinite(durationMs)) throw new Error(`--duration must be like 90s, got ${values.duration}`);
  const bucketSeconds = Number(values.bucket);
  const startedAt = new Date().toISOString();
  console.error(`measuring ${targets.join(", ")} with ${versions.join(", ")} for ${values.duration}`);
  const results = await Promise.all(
    targets.flatMap((t) => versions.map((v) => measure(t, v, durationMs, bucketSeconds))),
  );
  for (const r of results) {
    console.error(
      `${r.target} ${r.version}: ${r.resumed}/${r.reconnections} resumed (${percent(r)}), ${r.errors} errors`,
    );
  }
  const report: ClientReport = { startedAt, endedAt: new Date().toISOString(), bucketSeconds, results };
  console.log(`${resultPrefix}${JSON.stringify(report)}`);
}
