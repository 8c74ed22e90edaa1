/**
 * Measuring a fleet's server CPU per connection: load it for a while, and count the CPU time of
 * its processes (/proc) and the connections completed between two instants after a warm-up.
 * Scenarios alternate the fleets they compare in rounds (A B C, C B A, ...), so a change in the
 * machine's load during the run touches every fleet alike.
 */
import type { Handshake } from "../../test/rig/client.ts";
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

/**
 * Runs `load` (which must stop when its `until` returns true) for warmupMs + measureMs and
 * measures the processes `pids()` over the last measureMs.
 */
export async function measureSegment(
  pids: () => number[],
  load: (until: () => boolean) => Promise<Handshake[]>,
  warmupMs: number,
  measureMs: number,
): Promise<Segment> {
  let t0 = Number.POSITIVE_INFINITY;
  let t1 = Number.POSITIVE_INFINITY;
  let stop = false;
  const measuring = (async () => {
    await sleep(warmupMs);
    const ids = pids();
    const before = await totalCpuSeconds(ids);
    t0 = Date.now();
    await sleep(measureMs);
    t1 = Date.now();
    const after = await totalCpuSeconds(ids);
    stop = true;
    return after - before;
  })();
  const handshakes = load(() => stop);
  const cpuSeconds = await measuring;
  const all = await handshakes;
  const inside = all.filter((h) => h.at >= t0 && h.at < t1);
  const ok = inside.filter((h) => h.error === undefined);
  return {
    cpuSeconds,
    connections: ok.length,
    resumed: ok.filter((h) => h.resumed).length,
    errors: inside.length - ok.length,
    seconds: (t1 - t0) / 1000,
  };
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
