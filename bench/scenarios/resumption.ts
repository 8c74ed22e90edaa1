/**
 * Scenario 1: resumption through a round-robin balancer. 3 and 5 replicas, TLS 1.2 and 1.3;
 * every mode of every registered server (per-replica keys, the baseline, next to shared keys)
 * runs at the same time, with clients that reconnect offering the session they got last.
 */
import type { TlsVersion } from "../../harness/clients/client.ts";
import { rateAtLeast } from "../lib/goals.ts";
import { resumptionRate, runClients, withVariants } from "../lib/fleets.ts";
import type { Scenario } from "../lib/scenario.ts";
import { serversIn, type KeySharing } from "../lib/servers.ts";
import { min, pct, round, times } from "../lib/stats.ts";
import { barChart } from "../../harness/report/svg.ts";

interface Case {
  replicas: number;
  version: TlsVersion;
  server: string;
  mode: string;
  keys: KeySharing;
  reconnections: number;
  rate: number;
  errors: number;
}

export const resumption: Scenario = {
  name: "resumption",
  title: "Resumption through a round-robin balancer",
  async run(context) {
    const parameters = {
      replicas: context.quick ? [3] : [3, 5],
      versions: ["TLSv1.2", "TLSv1.3"] as TlsVersion[],
      certificate: "p256",
      clientsPerFleet: context.quick ? 4 : 16,
      meanPauseMs: 20,
      durationMs: context.quick ? 2000 : 15_000,
      servers: serversIn("resumption").map((s) => ({ name: s.name, modes: s.modes.map((m) => m.name) })),
      note: "every mode of one (replicas, version) case runs at the same time, one fleet each; no rotation during the run",
    };
    const cert = await context.cert("p256");
    const cases: Case[] = [];
    for (const replicas of parameters.replicas) {
      for (const version of parameters.versions) {
        const specs = serversIn("resumption").flatMap((server) =>
          server.modes.map((mode) => ({
            server,
            mode,
            scheme: mode.keys === "shared" ? ("schedule" as const) : ("none" as const),
            replicas,
            cert,
          })),
        );
        context.log(
          `${replicas} replicas, ${version}: ${specs.length} fleets at once for ${parameters.durationMs / 1000} s`,
        );
        await withVariants(specs, async (variants) => {
          const end = Date.now() + parameters.durationMs;
          const results = await Promise.all(
            variants.map((v) =>
              runClients({
                variant: v,
                groups: [{ version, clients: parameters.clientsPerFleet }],
                pauseMs: parameters.meanPauseMs,
                until: () => Date.now() > end,
              }),
            ),
          );
          variants.forEach((v, i) => {
            const handshakes = results[i] ?? [];
            const r = resumptionRate(handshakes);
            cases.push({
              replicas,
              version,
              server: v.spec.server.name,
              mode: v.spec.mode.name,
              keys: v.spec.mode.keys,
              reconnections: r.reconnections,
              rate: r.rate,
              errors: handshakes.filter((h) => h.error !== undefined).length,
            });
          });
        });
      }
    }
    const baselineOf = (c: Case): number =>
      cases.find(
        (b) =>
          b.keys === "per-replica" &&
          b.server === c.server &&
          b.replicas === c.replicas &&
          b.version === c.version,
      )?.rate ?? Number.NaN;
    const rows = cases.map((c) => ({
      replicas: c.replicas,
      tls: c.version,
      server: c.server,
      mode: c.mode,
      reconnections: c.reconnections,
      resumed: pct(c.rate),
      "expected 1/N": c.keys === "per-replica" ? pct(1 / c.replicas) : "",
      "vs per-replica": times(c.rate / baselineOf(c)),
      errors: c.errors,
    }));
    const shared = cases.filter((c) => c.keys === "shared");
    const worst = min(shared.map((c) => c.rate));
    const worstCase = shared.find((c) => c.rate === worst);
    const goal = rateAtLeast(
      "shared keys, steady resumption (worst case)",
      worst,
      0.999,
      worstCase === undefined
        ? undefined
        : `${worstCase.server} ${worstCase.mode}, ${worstCase.replicas} replicas, ${worstCase.version}`,
    );
    const labels = [...new Set(cases.map((c) => `${c.server} ${c.mode}`))];
    const groups = parameters.replicas.flatMap((n) => parameters.versions.map((v) => ({ n, v })));
    const chart = barChart({
      title: "Reconnections resumed through a round-robin balancer",
      groups: groups.map((g) => `${g.n} replicas, ${g.v}`),
      series: labels,
      values: groups.map((g) =>
        labels.map(
          (l) =>
            (cases.find((c) => c.replicas === g.n && c.version === g.v && `${c.server} ${c.mode}` === l)
              ?.rate ?? Number.NaN) * 100,
        ),
      ),
      yLabel: "reconnections resumed (%)",
      yMax: 110,
      format: (v) => v.toFixed(1),
      references: [{ value: 99.9, label: "goal 99.9%" }],
    });
    const baselines = cases.filter((c) => c.keys === "per-replica");
    return {
      parameters,
      rows,
      goals: [goal],
      headlines: [
        `shared keys: ${pct(worst)} of reconnections resumed at worst; per-replica keys: ${baselines
          .map(
            (c) =>
              `${pct(c.rate, 1)} (${c.server}, ${c.replicas} replicas, ${c.version}; 1/N = ${pct(1 / c.replicas, 1)})`,
          )
          .join(", ")}`,
      ],
      chart,
      details: { cases: cases.map((c) => ({ ...c, rate: round(c.rate) })) },
    };
  },
};
