/**
 * Fleets as the scenarios use them: a server in one mode with its ring feed (the key schedule,
 * the naive scheme, or none for per-replica keys), and resumption clients of both TLS versions.
 */
import { randomBytes } from "node:crypto";
import { nextRing } from "../../src/core/index.ts";
import type { ServerCert } from "../../harness/tls/certs.ts";
import type { Handshake, TlsVersion } from "../../harness/clients/client.ts";
import { Feeder, ringDirectories, writeRing } from "../../harness/fleet/fleet.ts";
import { NaiveFeeder } from "./naive-feeder.ts";
import { nodeClient, variantName, type ServerFleet, type ServerKind, type ServerMode } from "./servers.ts";

/** How a fleet's ring is fed: the key schedule (pending stage), the naive scheme, or no ring. */
export type Scheme = "schedule" | "naive" | "none";

export interface VariantSpec {
  server: ServerKind;
  mode: ServerMode;
  scheme: Scheme;
  replicas: number;
  cert: ServerCert;
  /** Delay of ring delivery per replica, ms (default none). */
  skewMs?: readonly number[];
  /** Rotation interval, ms (default 1 h: no rotation during a run). */
  intervalMs?: number;
  /** A label for tables (default "<server> <mode>", followed by "naive" for the naive scheme). */
  label?: string;
}

export interface Variant {
  spec: VariantSpec;
  label: string;
  fleet: ServerFleet;
  /**
   * Starts the ring feed (idempotent): a fresh ring (or naive key) reaches every replica at
   * once and the first rotation comes one interval later. Until then the replicas hold a
   * placeholder ring that never rotates, so a scenario starts the feeds when its clients start.
   */
  feed(): Promise<void>;
  /** When the feed started (undefined before feed()). */
  readonly fedAt: number | undefined;
  /** The schedule's feeder, once fed (to classify losses by key). */
  readonly feeder: Feeder | undefined;
  /** When the active key changed (the schedule's activations, the naive scheme's new keys). */
  rotationTimes(): number[];
  /** Every process of the fleet's replicas. */
  pids(): number[];
  stop(): Promise<void>;
}

const hour = 3_600_000;

/** Starts a fleet on a placeholder ring (for a shared mode); its feed starts with feed(). */
export async function startVariant(spec: VariantSpec): Promise<Variant> {
  const dirs = await ringDirectories(spec.replicas);
  const skew = spec.skewMs ?? dirs.map(() => 0);
  const intervalMs = spec.intervalMs ?? hour;
  if (spec.scheme !== "none") {
    const placeholder = nextRing({
      previous: undefined,
      spec: { rotationIntervalMs: hour, retiredKeys: 1, suspend: false },
      now: Date.now(),
      random: randomBytes,
    }).ring;
    await Promise.all(dirs.map((d) => writeRing(d, placeholder)));
  }
  const fleet = await spec.server.start({
    replicas: spec.replicas,
    mode: spec.mode.name,
    cert: spec.cert,
    directories: dirs,
  });
  let feeder: Feeder | undefined;
  let naive: NaiveFeeder | undefined;
  let fedAt: number | undefined;
  let feeding: Promise<void> | undefined;
  let stopped = false;
  const feed = async (): Promise<void> => {
    fedAt = Date.now();
    if (spec.scheme === "schedule") {
      feeder = await Feeder.start(dirs, [...skew], {
        rotationIntervalMs: intervalMs,
        retiredKeys: 1,
        suspend: false,
      });
    } else if (spec.scheme === "naive") {
      naive = await NaiveFeeder.start(dirs, skew, intervalMs);
    }
    if (stopped) {
      feeder?.stop();
      naive?.stop();
    }
  };
  return {
    spec,
    label:
      spec.label ?? `${variantName(spec.server, spec.mode.name)}${spec.scheme === "naive" ? " naive" : ""}`,
    fleet,
    feed: () => (feeding ??= feed()),
    get fedAt() {
      return fedAt;
    },
    get feeder() {
      return feeder;
    },
    rotationTimes: () => [...(feeder?.rotationTimes ?? naive?.rotationTimes ?? [])],
    pids: () => fleet.replicas.flatMap((r) => r.pids()),
    stop: async () => {
      stopped = true;
      feeder?.stop();
      naive?.stop();
      await fleet.stop();
    },
  };
}

/**
 * Starts every variant (at once), runs `body`, and stops them all whatever happens. When one
 * fails to start, the others are stopped and the error is thrown.
 */
export async function withVariants<T>(
  specs: readonly VariantSpec[],
  body: (variants: Variant[]) => Promise<T>,
): Promise<T> {
  const started = await Promise.allSettled(specs.map((s) => startVariant(s)));
  const variants = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  try {
    const failed = started.find((s) => s.status === "rejected");
    if (failed !== undefined) throw failed.reason;
    return await body(variants);
  } finally {
    await Promise.all(variants.map((v) => v.stop().catch(() => undefined)));
  }
}

export interface TaggedHandshake extends Handshake {
  version: TlsVersion;
}

export interface ClientsOptions {
  /** The fleet to connect to (through its balancer, with its server's client). */
  variant: Variant;
  /** How many clients of each TLS version. */
  groups: readonly { version: TlsVersion; clients: number }[];
  /** Mean pause between a client's connections, ms (0: back to back). */
  pauseMs: number;
  until: () => boolean;
  onHandshake?: (h: TaggedHandshake) => void;
}

/** Resumption clients of each version (the server's own, or Node's); every handshake made. */
export async function runClients(options: ClientsOptions): Promise<TaggedHandshake[]> {
  const { variant } = options;
  const client = variant.spec.server.client ?? nodeClient;
  const runs = options.groups.flatMap(({ version, clients }) =>
    Array.from({ length: clients }, async () => {
      const tagged: TaggedHandshake[] = [];
      await client({
        port: variant.fleet.balancer.port,
        cert: variant.spec.cert,
        version,
        until: options.until,
        pauseMs: options.pauseMs,
        onHandshake: (h) => {
          const t = { ...h, version };
          tagged.push(t);
          options.onHandshake?.(t);
        },
      });
      return tagged;
    }),
  );
  return (await Promise.all(runs)).flat();
}

/** Resumed / reconnections (errors excluded) of the handshakes in [from, to). */
export function resumptionRate(
  handshakes: readonly Handshake[],
  from = 0,
  to = Number.POSITIVE_INFINITY,
): { rate: number; reconnections: number; resumed: number } {
  let reconnections = 0;
  let resumed = 0;
  for (const h of handshakes) {
    if (h.at < from || h.at >= to || !h.offered || h.error !== undefined) continue;
    reconnections++;
    if (h.resumed) resumed++;
  }
  return { rate: reconnections === 0 ? Number.NaN : resumed / reconnections, reconnections, resumed };
}

/** Full (not resumed, no error) handshakes in [from, to). */
export function fullHandshakes(handshakes: readonly Handshake[], from: number, to: number): number {
  return handshakes.filter((h) => h.at >= from && h.at < to && !h.resumed && h.error === undefined).length;
}
