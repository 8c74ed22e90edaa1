/**
 * Scenario 3: server CPU per connection across the fleet (utime + stime of every replica process
 * / connections), RSA-2048 and ECDSA P-256 certificates, TLS 1.2 and 1.3: every mode of every
 * server with 3 replicas behind the balancer (per-replica keys resume about 1/3 of
 * reconnections, shared keys all of them), and the limit where every connection resumes (one
 * replica, one client reconnecting back to back). Fleet clients reconnect after a random pause
 * (mean 20 ms), which decorrelates them from the balancer's turns as real traffic is (back to
 * back, a client's connections would follow the balancer's cycle and the baseline would resume
 * less than 1/N). The fleets of one case are loaded in turn, alternating the order each round.
 */
import type { KeyType } from "../../harness/tls/certs.ts";
import type { TlsVersion } from "../../harness/clients/client.ts";
import { atMost, factor } from "../lib/goals.ts";
import { runClients, withVariants, type VariantSpec } from "../lib/fleets.ts";
import type { Scenario } from "../lib/scenario.ts";
import { alternating, measureSegment, totals, type Segment, type Totals } from "../lib/segments.ts";
import { baselineMode, serversIn } from "../lib/servers.ts";
import { num, pct, round, times } from "../lib/stats.ts";
import { barChart } from "../../harness/report/svg.ts";

interface Case extends Totals {
  cert: KeyType;
  version: TlsVersion;
  server: string;
  fleet: string;
  kind: "per-replica" | "shared" | "limit";
  replicas: number;
  clients: number;
}

const certName = (c: KeyType): string => (c === "rsa2048" ? "RSA-2048" : "ECDSA P-256");

export const cpu: Scenario = {
  name: "cpu",
  title: "Server CPU per connection across the fleet",
  async run(context) {
    const parameters = {
      certificates: ["rsa2048", "p256"] as KeyType[],
      versions: ["TLSv1.2", "TLSv1.3"] as TlsVersion[],
      replicas: 3,
      clientsPerFleet: 16,
      limit:
        "one replica (per-replica keys), one client reconnecting back to back: every reconnection resumes",
      meanPauseMs: 20,
      warmupMs: context.quick ? 300 : 500,
      measureMs: context.quick ? 1000 : 3000,
      rounds: context.quick ? 1 : 3,
      cpu: "utime + stime of every replica process (/proc/<pid>/stat) between two instants after the warm-up, / connections completed between them",
    };
    const cases: Case[] = [];
    for (const certificate of parameters.certificates) {
      const cert = await context.cert(certificate);
      for (const version of parameters.versions) {
        const specs: (VariantSpec & { kind: Case["kind"]; clients: number; pauseMs: number })[] = serversIn(
          "cpu",
        ).flatMap((server) => [
          ...server.modes.map((mode) => ({
            server,
            mode,
            scheme: mode.keys === "shared" ? ("schedule" as const) : ("none" as const),
            replicas: parameters.replicas,
            cert,
            kind: mode.keys,
            clients: parameters.clientsPerFleet,
            pauseMs: parameters.meanPauseMs,
          })),
          {
            server,
            mode: baselineMode(server),
            scheme: "none" as const,
            replicas: 1,
            cert,
            kind: "limit" as const,
            clients: 1,
            pauseMs: 0,
            label: `${server.name} limit`,
          },
        ]);
        context.log(`${certName(certificate)}, ${version}: ${specs.length} fleets, loaded in turn`);
        await withVariants(specs, async (variants) => {
          const segments = variants.map((): Segment[] => []);
          for (let round = 0; round < parameters.rounds; round++) {
            for (const i of alternating(
              variants.map((_, j) => j),
              round,
            )) {
              const v = variants[i]!;
              const spec = specs[i]!;
              segments[i]!.push(
                await measureSegment(
                  () => v.pids(),
                  (until) =>
                    runClients({
                      variant: v,
                      groups: [{ version, clients: spec.clients }],
                      pauseMs: spec.pauseMs,
                      until,
                    }),
                  parameters.warmupMs,
                  parameters.measureMs,
                ),
              );
            }
          }
          variants.forEach((v, i) => {
            const spec = specs[i]!;
            cases.push({
              cert: certificate,
              version,
              server: spec.server.name,
              fleet: v.label,
              kind: spec.kind,
              replicas: spec.replicas,
              clients: spec.clients,
              ...totals(segments[i]!),
            });
          });
        });
      }
    }
    const baselineOf = (c: Case): Case | undefined =>
      cases.find(
        (b) =>
          b.kind === "per-replica" && b.server === c.server && b.cert === c.cert && b.version === c.version,
      );
    const rows = cases.map((c) => ({
      certificate: certName(c.cert),
      tls: c.version,
      fleet: c.fleet,
      replicas: c.replicas,
      clients: c.clients,
      connections: c.connections,
      resumed: pct(c.resumedShare, 1),
      "CPU ms/connection": num(c.cpuMsPerConnection, 3),
      "vs per-replica": times(c.cpuMsPerConnection / (baselineOf(c)?.cpuMsPerConnection ?? Number.NaN)),
      errors: c.errors,
    }));
    const goals = cases
      .filter((c) => c.kind === "shared" && c.cert === "rsa2048" && c.version === "TLSv1.2")
      .map((c) =>
        atMost(
          `${c.fleet}: fleet CPU per connection vs per-replica keys (TLS 1.2, RSA-2048, ${c.replicas} replicas)`,
          c.cpuMsPerConnection / (baselineOf(c)?.cpuMsPerConnection ?? Number.NaN),
          0.6,
          factor,
          `${num(c.cpuMsPerConnection, 3)} vs ${num(baselineOf(c)?.cpuMsPerConnection ?? Number.NaN, 3)} ms; the limit (all resumed) ${times(
            (cases.find(
              (l) =>
                l.kind === "limit" && l.server === c.server && l.cert === c.cert && l.version === c.version,
            )?.cpuMsPerConnection ?? Number.NaN) / (baselineOf(c)?.cpuMsPerConnection ?? Number.NaN),
          )}`,
        ),
      );
    const groups = parameters.certificates.flatMap((cert) =>
      parameters.versions.map((version) => ({ cert, version })),
    );
    const fleets = [...new Set(cases.map((c) => c.fleet))];
    const chart = barChart({
      title: "Server CPU per connection across the fleet (3 replicas; limit: 1 replica, 1 client)",
      groups: groups.map((g) => `${certName(g.cert)}, ${g.version}`),
      series: fleets,
      values: groups.map((g) =>
        fleets.map(
          (f) =>
            (cases.find((c) => c.cert === g.cert && c.version === g.version && c.fleet === f)
              ?.cpuMsPerConnection ?? Number.NaN) * 1000,
        ),
      ),
      yLabel: "server CPU per connection (µs)",
      format: (v) => v.toFixed(0),
    });
    const headlines = groups.map((g) => {
      const here = cases.filter(
        (c) => c.cert === g.cert && c.version === g.version && c.kind !== "per-replica",
      );
      return `${certName(g.cert)}, ${g.version}: CPU per connection vs per-replica keys: ${here
        .map(
          (c) =>
            `${c.fleet} ${times(c.cpuMsPerConnection / (baselineOf(c)?.cpuMsPerConnection ?? Number.NaN))}`,
        )
        .join(", ")} (per-replica ${num(baselineOf(here[0]!)?.cpuMsPerConnection ?? Number.NaN, 3)} ms)`;
    });
    return {
      parameters,
      rows,
      goals,
      headlines,
      chart,
      details: cases.map((c) => ({
        ...c,
        cpuMsPerConnection: round(c.cpuMsPerConnection),
        perSecond: round(c.perSecond, 1),
        resumedShare: round(c.resumedShare),
      })),
    };
  },
};
