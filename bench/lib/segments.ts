/**
 * Measuring a fleet's server CPU per connection: load it for a while, and count the CPU time of
 * its processes (/proc) and the connections completed between two instants after a warm-up.
 * Scenarios either alternate the fleets they compare in rounds (A B C, C B A, ...) or load them
 * at the same time, so a change in the machine's load during the run touches every fleet alike.
 */
import type { Handshake } from "../../harness/clients/client.ts";
import { totalCpuSeconds } from "./proc.ts";
import { sleep } from "./stats.ts";

export interface Segment {
  /** CPU seconds of the processes between the two instants. */
  cpuSeconds: number;
  /** Handshakes completed (no error) between the two instants. */
  connections: number;
  resumed: number;
  errors: number;
  seconds: number;
}

export interface Totals extends Segment {
  /** Server CPU per connection, ms. */
  cpuMsPerConnection: number;
  /** Handshakes per wall-clock second. */
  perSecond: number;
  /** Resumed / connections. */
  resumedShare: number;
}

/** One server (its processes) and the load that drives it. */
export interface Measured {
  pids: () => number[];
  /** Must stop when its `until` returns true. */
  load: (until: () => boolean) => Promise<Handshake[]>;
}

/**
 * Runs every load at the same time for warmupMs + measureMs and measures each one's processes
 * over the same last measureMs: servers measured together share the machine's conditions (a
 * burst of load elsewhere touches them alike), which servers measured in turn do not.
 */
export async function measureTogether(
  items: readonly Measured[],
  warmupMs: number,
  measureMs: number,
): Promise<Segment[]> {
  let t0 = Number.POSITIVE_INFINITY;
  let t1 = Number.POSITIVE_INFINITY;
  let stop = false;
  const measuring = (async () => {
    try {
      await sleep(warmupMs);
      const ids = items.map((item) => item.pids());
      const before = await Promise.all(ids.map((pids) => totalCpuSeconds(pids)));
      t0 = Date.now();
      await sleep(measureMs);
      t1 = Date.now();
      const after = await Promise.all(ids.map((pids) => totalCpuSeconds(pids)));
      return after.map((a, i) => a - (before[i] ?? 0));
    } finally {
      // The loads stop whatever happened here.
      stop = true;
    }
  })();
  const loads = Promise.all(items.map((item) => item.load(() => stop)));
  const [cpu, all] = await Promise.all([measuring, loads]);
  return all.map((handshakes, i) => {
    const inside = handshakes.filter((h) => h.at >= t0 && h.at < t1);
    const ok = inside.filter((h) => h.error === undefined);
    return {
      cpuSeconds: cpu[i] ?? 0,
      connections: ok.length,
      resumed: ok.filter((h) => h.resumed).length,
      errors: inside.length - ok.length,
      seconds: (t1 - t0) / 1000,
    };
  });
}

/** One load alone: measureTogether of one. */
export async function measureSegment(
  pids: Measured["pids"],
  load: Measured["load"],
  warmupMs: number,
  measureMs: number,
): Promise<Segment> {
  const [segment] = await measureTogether([{ pids, load }], warmupMs, measureMs);
  if (segment === undefined) throw new Error("no segment measured");
  return segment;
}

export function totals(segments: readonly Segment[]): Totals {
  const sum = (f: (s: Segment) => number): number => segments.reduce((a, s) => a + f(s), 0);
  const cpuSeconds = sum((s) => s.cpuSeconds);
  const connections = sum((s) => s.connections);
  const seconds = sum((s) => s.seconds);
  const resumed = sum((s) => s.resumed);
  return {
    cpuSeconds,
    connections,
    resumed,
    errors: sum((s) => s.errors),
    seconds,
    cpuMsPerConnection: connections === 0 ? Number.NaN : (cpuSeconds * 1000) / connections,
    perSecond: seconds === 0 ? Number.NaN : connections / seconds,
    resumedShare: connections === 0 ? Number.NaN : resumed / connections,
  };
}

/** Round r visits the items forwards when r is even, backwards when odd. */
export function alternating<T>(items: readonly T[], round: number): T[] {
  return round % 2 === 0 ? [...items] : [...items].reverse();
}
