/**
 * Scenario 2: resumption through rotations, with each replica receiving every new ring at a
 * different moment (propagation skew 0 s, 5 s, 60 s across 3 replicas: replica i gets it
 * i x skew / 2 later). For one skew, these fleets run at the same time:
 *   - every shared mode of every server, fed by the key schedule (a key is published one
 *     interval before it encrypts; the library switches on the ring's timestamps);
 *   - the naive scheme (a new key encrypts the moment it is generated, each replica switching
 *     on receipt), in the server's naiveMode;
 *   - per-replica keys (no rotation), the baseline of the full-handshake rate.
 * Half the clients use TLS 1.2, half TLS 1.3. Reported per rotation: the resumption rate in the
 * minute after it (the interval, when shorter) and the peak full handshakes per second in the
 * 10 s after it, next to the steady figures before the first rotation and the baseline's.
 */
import type { TlsVersion } from "../../harness/clients/client.ts";
import { classifyLosses, type Losses } from "../../harness/keys.ts";
import { rateAtLeast } from "../lib/goals.ts";
import {
  fullHandshakes,
  resumptionRate,
  runClients,
  withVariants,
  type TaggedHandshake,
  type Variant,
  type VariantSpec,
} from "../lib/fleets.ts";
import type { Scenario } from "../lib/scenario.ts";
import { baselineMode, serversIn } from "../lib/servers.ts";
import { max, mean, min, num, pct, round } from "../lib/stats.ts";
import { lineChart, type LinePanel } from "../../harness/report/svg.ts";
import type { Row } from "../lib/table.ts";

interface SkewCase {
  skewMs: number;
  intervalMs: number;
}

interface RotationFigures {
  /** ms after the clients started */
  at: number;
  rate: number;
  reconnections: number;
  peakFullPerSecond: number;
  /** reconnections not resumed in the window, by the replica that answered */
  lostByReplica: Record<string, number>;
}

interface Figures {
  variant: string;
  scheme: string;
  version: TlsVersion | "all";
  steadyRate: number;
  steadyFullPerSecond: number;
  rotations: RotationFigures[];
  /** handshakes that failed (timeout, reset) */
  errors: number;
  /** reconnections not resumed after a rotation, by why: the ticket's key was live, or expired */
  losses?: Losses;
}

const versions: TlsVersion[] = ["TLSv1.2", "TLSv1.3"];

function figures(
  variant: Variant,
  handshakes: readonly TaggedHandshake[],
  version: TlsVersion | "all",
  window: { start: number; steadyFrom: number; end: number; afterMs: number; peakMs: number; count: number },
): Figures {
  const hs = version === "all" ? handshakes : handshakes.filter((h) => h.version === version);
  const rotations = variant
    .rotationTimes()
    .filter((t) => t >= window.steadyFrom && t + window.afterMs <= window.end)
    .slice(0, window.count);
  const steadyEnd = rotations[0] ?? window.end;
  const steadySeconds = (steadyEnd - window.steadyFrom) / 1000;
  const perRotation = rotations.map((t) => {
    const r = resumptionRate(hs, t, t + window.afterMs);
    const buckets = Array.from({ length: Math.ceil(window.peakMs / 1000) }, (_, i) =>
      fullHandshakes(hs, t + i * 1000, t + (i + 1) * 1000),
    );
    const lostByReplica: Record<string, number> = {};
    for (const h of hs) {
      if (h.at < t || h.at >= t + window.afterMs || !h.offered || h.resumed || h.error !== undefined)
        continue;
      lostByReplica[h.replica] = (lostByReplica[h.replica] ?? 0) + 1;
    }
    return {
      at: t - window.start,
      rate: r.rate,
      reconnections: r.reconnections,
      lostByReplica,
      peakFullPerSecond: max(buckets),
    };
  });
  const result: Figures = {
    variant: variant.label,
    scheme: variant.spec.scheme,
    version,
    steadyRate: steadySeconds > 0 ? resumptionRate(hs, window.steadyFrom, steadyEnd).rate : Number.NaN,
    steadyFullPerSecond:
      steadySeconds > 0 ? fullHandshakes(hs, window.steadyFrom, steadyEnd) / steadySeconds : Number.NaN,
    rotations: perRotation,
    errors: hs.filter((h) => h.error !== undefined).length,
  };
  const feeder = variant.feeder;
  if (feeder !== undefined) {
    const afterRotations = hs.filter((h) => rotations.some((t) => h.at >= t && h.at < t + window.afterMs));
    result.losses = classifyLosses(afterRotations, feeder.keys);
  }
  return result;
}

/** Resumption rate per bucket, for the chart. */
function timeline(handshakes: readonly TaggedHandshake[], start: number, end: number, bucketMs: number) {
  const points: { x: number; y: number }[] = [];
  for (let t = start; t + bucketMs <= end; t += bucketMs) {
    points.push({
      x: (t + bucketMs / 2 - start) / 1000,
      y: resumptionRate(handshakes, t, t + bucketMs).rate * 100,
    });
  }
  return points;
}

export const rotation: Scenario = {
  name: "rotation",
  title: "Resumption through rotations with propagation skew",
  async run(context) {
    const quick = context.quick;
    const cases: SkewCase[] = quick
      ? [
          { skewMs: 0, intervalMs: 3000 },
          { skewMs: 1500, intervalMs: 3000 },
        ]
      : [
          { skewMs: 0, intervalMs: 10_000 },
          { skewMs: 5000, intervalMs: 10_000 },
          { skewMs: 60_000, intervalMs: 75_000 },
        ];
    const parameters = {
      cases,
      replicas: 3,
      skewAcrossReplicas: "replica i (0-based) receives each ring i x skew / 2 after the first",
      rotations: quick ? 2 : 5,
      retiredKeys: 1,
      clientsPerVersion: quick ? 4 : 8,
      versions,
      meanPauseMs: 200,
      warmupMs: quick ? 1000 : 2000,
      afterRotationMs: "min(60 s, interval): the resumption rate window after each rotation",
      peakWindowMs: "min(10 s, interval): the window of the peak full handshakes per second (1 s buckets)",
      steady:
        "from the end of the warm-up to the first rotation, one interval after the feeds and the clients started (the baseline: to the end)",
      certificate: "p256",
      note: "the fleets of one skew run at the same time: every shared mode with the key schedule, the naive scheme, per-replica keys",
    };
    const cert = await context.cert("p256");
    const all: { skewMs: number; intervalMs: number; figures: Figures[]; baseline: Figures[] }[] = [];
    const panels: LinePanel[] = [];
    for (const c of cases) {
      const skew = Array.from({ length: parameters.replicas }, (_, i) => (i * c.skewMs) / 2);
      const specs: VariantSpec[] = serversIn("rotation").flatMap((server) => [
        { server, mode: baselineMode(server), scheme: "none" as const, replicas: parameters.replicas, cert },
        ...server.modes
          .filter((m) => m.keys === "shared")
          .map((mode) => ({
            server,
            mode,
            scheme: "schedule" as const,
            replicas: parameters.replicas,
            cert,
            skewMs: skew,
            intervalMs: c.intervalMs,
          })),
        ...server.modes
          .filter((m) => m.name === server.naiveMode)
          .map((mode) => ({
            server,
            mode,
            scheme: "naive" as const,
            replicas: parameters.replicas,
            cert,
            skewMs: skew,
            intervalMs: c.intervalMs,
            label: `${server.name} naive`,
          })),
      ]);
      const afterMs = Math.min(60_000, c.intervalMs);
      const peakMs = Math.min(10_000, c.intervalMs);
      await withVariants(specs, async (variants) => {
        // The feeds start together, with the clients: a steady period precedes the first rotation.
        await Promise.all(variants.map((v) => v.feed()));
        const start = Date.now();
        const phase = Math.max(...variants.map((v) => v.fedAt ?? start));
        const end = phase + parameters.rotations * c.intervalMs + afterMs + 1000;
        context.log(
          `skew ${c.skewMs / 1000} s, interval ${c.intervalMs / 1000} s: ${variants.length} fleets at once for ${Math.round((end - start) / 1000)} s`,
        );
        const results = await Promise.all(
          variants.map((v) =>
            runClients({
              variant: v,
              groups: versions.map((version) => ({ version, clients: parameters.clientsPerVersion })),
              pauseMs: parameters.meanPauseMs,
              until: () => Date.now() > end,
            }),
          ),
        );
        const window = {
          start,
          steadyFrom: start + parameters.warmupMs,
          end,
          afterMs,
          peakMs,
          count: parameters.rotations,
        };
        const figs = variants.flatMap((v, i) =>
          [...versions, "all" as const].map((version) => figures(v, results[i] ?? [], version, window)),
        );
        const isBaseline = (f: Figures): boolean => f.scheme === "none";
        all.push({
          skewMs: c.skewMs,
          intervalMs: c.intervalMs,
          figures: figs.filter((f) => !isBaseline(f)),
          baseline: figs.filter(isBaseline),
        });
        const marks = (variants.find((v) => v.spec.scheme === "schedule")?.rotationTimes() ?? [])
          .filter((t) => t < end)
          .map((t) => (t - start) / 1000);
        panels.push({
          title: `skew ${c.skewMs / 1000} s across replicas, rotation every ${c.intervalMs / 1000} s`,
          xMax: (end - start) / 1000,
          marks,
          markLabel: "rotation ",
          series: variants.map((v, i) => ({
            name: v.label,
            points: timeline(results[i] ?? [], start, end, c.intervalMs >= 30_000 ? 3000 : 1000),
            dashed: v.spec.scheme === "none",
          })),
        });
      });
    }

    const rows: Row[] = [];
    for (const c of all) {
      for (const f of [...c.figures, ...c.baseline]) {
        if (f.version === "all") continue;
        const baseline = c.baseline.find(
          (b) => b.version === f.version && b.variant.split(" ")[0] === f.variant.split(" ")[0],
        );
        const rates = f.rotations.map((r) => r.rate);
        rows.push({
          skew: `${c.skewMs / 1000} s`,
          interval: `${c.intervalMs / 1000} s`,
          fleet: f.variant,
          tls: f.version,
          rotations: f.rotations.length,
          "steady resumed": pct(f.steadyRate),
          "after rotation: worst": pct(min(rates)),
          mean: pct(mean(rates)),
          "full/s steady": num(f.steadyFullPerSecond),
          "peak full/s after rotation": num(max(f.rotations.map((r) => r.peakFullPerSecond)), 0),
          "baseline full/s": num(baseline?.steadyFullPerSecond ?? Number.NaN),
          "lost: live key": f.losses?.live ?? "",
          "expired key": f.losses?.expired ?? "",
          errors: f.errors,
        });
      }
    }

    // The goal: the largest skew (60 s in the full run), every shared mode with the schedule.
    const widest = all.at(-1);
    const goals =
      widest === undefined
        ? []
        : widest.figures
            .filter((f) => f.scheme === "schedule" && f.version === "all")
            .map((f) => {
              const perVersion = widest.figures.filter((g) => g.variant === f.variant && g.version !== "all");
              const worst = min(perVersion.flatMap((g) => g.rotations.map((r) => r.rate)));
              const naive = widest.figures.filter(
                (g) =>
                  g.scheme === "naive" &&
                  g.version === "all" &&
                  g.variant.split(" ")[0] === f.variant.split(" ")[0],
              );
              return rateAtLeast(
                `${f.variant}, ${widest.skewMs / 1000} s skew: resumed in the ${Math.min(60, widest.intervalMs / 1000)} s after each rotation (worst rotation and TLS version)`,
                worst,
                0.995,
                naive
                  .map(
                    (n) =>
                      `beside it, ${n.variant}: worst ${pct(min(n.rotations.map((r) => r.rate)))}, mean ${pct(mean(n.rotations.map((r) => r.rate)))}`,
                  )
                  .join("; "),
              );
            });

    const chart = lineChart({
      title: "Reconnections resumed through rotations (TLS 1.2 and 1.3 clients together)",
      panels,
      xLabel: "seconds since the clients started",
      yLabel: "resumed (%)",
      yMin: 0,
      yMax: 100,
      formatY: (v) => `${v.toFixed(0)}%`,
      note: "dashed vertical lines: the scheduled key activations; the naive scheme generates its keys at about the same instants",
    });
    const headlines = all.map((c) => {
      const line = c.figures
        .filter((f) => f.version === "all")
        .map(
          (f) =>
            `${f.variant} worst ${pct(min(f.rotations.map((r) => r.rate)))} (peak ${num(max(f.rotations.map((r) => r.peakFullPerSecond)), 0)} full/s)`,
        )
        .join(", ");
      const base = c.baseline.find((b) => b.version === "all");
      return `skew ${c.skewMs / 1000} s, rotation every ${c.intervalMs / 1000} s: resumed after each rotation ${line}; per-replica keys ${num(base?.steadyFullPerSecond ?? Number.NaN)} full/s`;
    });
    return {
      parameters,
      rows,
      goals,
      headlines,
      chart,
      details: all.map((c) => ({
        ...c,
        figures: [...c.figures, ...c.baseline].map((f) => ({
          ...f,
          steadyRate: round(f.steadyRate),
          steadyFullPerSecond: round(f.steadyFullPerSecond, 2),
          rotations: f.rotations.map((r) => ({ ...r, rate: round(r.rate) })),
        })),
        baseline: undefined,
      })),
    };
  },
};
