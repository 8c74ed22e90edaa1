/**
 * Scenario 5: the multi-key router's overhead. One router process (the library in router mode,
 * a ring of 3 keys) against one plain Node tls.Server process holding the same active key, no
 * balancer: handshakes per second with a closed loop of clients, and server CPU per connection,
 * TLS 1.2 and 1.3, full handshakes (no session offered) and resumptions. The two servers are
 * loaded in turn, alternating the order each round; each ratio is the median of the rounds'
 * ratios, so a burst of load from elsewhere on the machine moves one round, not the figure.
 */
import type { TlsVersion } from "../../test/rig/client.ts";
import { runLoad } from "../../test/rig/handshake-load.ts";
import { atMost, percentOver } from "../lib/goals.ts";
import type { Scenario } from "../lib/scenario.ts";
import { alternating, measureSegment, totals, type Segment, type Totals } from "../lib/segments.ts";
import {
  startLibraryServer,
  startPlainServer,
  steadyRing,
  type ServerProcess,
} from "../lib/single-server.ts";
import { max, median, num, pct, round, times } from "../lib/stats.ts";
import { barChart } from "../lib/svg.ts";

type Kind = "full" | "resumed";

interface Case {
  version: TlsVersion;
  kind: Kind;
  plain: Totals;
  router: Totals;
  /** router / plain, the median of the rounds' ratios (a burst of load elsewhere moves one round) */
  cpuRatio: number;
  rateRatio: number;
  /** router / plain over all rounds together */
  pooledCpuRatio: number;
  pooledRateRatio: number;
}

export const routerOverhead: Scenario = {
  name: "router-overhead",
  title: "Router overhead: the multi-key router vs a plain tls.Server on the same key",
  async run(context) {
    const parameters = {
      versions: ["TLSv1.2", "TLSv1.3"] as TlsVersion[],
      kinds: ["full", "resumed"] as Kind[],
      certificate: "p256",
      concurrency: 4,
      warmupMs: 300,
      measureMs: context.quick ? 800 : 1500,
      rounds: context.quick ? 1 : 8,
      ring: "3 keys (active, pending, a never-used padding key); the router routes each connection by its ClientHello",
      ratios: "router / plain per round, median over the rounds (pooled ratios in the details)",
      clients: "in the benchmark process, straight to the server's port (no balancer)",
    };
    const cert = await context.cert("p256");
    const ring = steadyRing();
    const started: ServerProcess[] = [];
    const cases: Case[] = [];
    try {
      const plain = await startPlainServer(cert, ring);
      started.push(plain);
      const router = await startLibraryServer("router", cert, ring);
      started.push(router);
      // Warm both processes up (JIT, TLS caches) before anything is measured.
      for (const server of [plain, router]) {
        for (const version of parameters.versions) {
          for (const resume of [false, true]) {
            const until = Date.now() + (context.quick ? 200 : 500);
            await runLoad({
              port: server.port,
              ca: cert.ca,
              version,
              resume,
              concurrency: 2,
              until: () => Date.now() > until,
            });
          }
        }
      }
      for (const version of parameters.versions) {
        for (const kind of parameters.kinds) {
          context.log(`${version}, ${kind} handshakes: ${parameters.rounds} rounds`);
          const servers = [plain, router];
          const segments = servers.map((): Segment[] => []);
          for (let r = 0; r < parameters.rounds; r++) {
            for (const i of alternating([0, 1], r)) {
              const server = servers[i]!;
              segments[i]!.push(
                await measureSegment(
                  () => [server.pid],
                  (until) =>
                    runLoad({
                      port: server.port,
                      ca: cert.ca,
                      version,
                      resume: kind === "resumed",
                      concurrency: parameters.concurrency,
                      until,
                    }),
                  parameters.warmupMs,
                  parameters.measureMs,
                ),
              );
            }
          }
          const [p, q] = [totals(segments[0]!), totals(segments[1]!)];
          const rounds = segments[0]!.map((plainRound, r) => ({
            plain: totals([plainRound]),
            router: totals([segments[1]![r]!]),
          }));
          cases.push({
            version,
            kind,
            plain: p,
            router: q,
            cpuRatio: median(rounds.map((r) => r.router.cpuMsPerConnection / r.plain.cpuMsPerConnection)),
            rateRatio: median(rounds.map((r) => r.router.perSecond / r.plain.perSecond)),
            pooledCpuRatio: q.cpuMsPerConnection / p.cpuMsPerConnection,
            pooledRateRatio: q.perSecond / p.perSecond,
          });
        }
      }
    } finally {
      await Promise.all(started.map((s) => s.stop()));
    }
    const rows = cases.flatMap((c) =>
      (["plain", "router"] as const).map((server) => ({
        tls: c.version,
        handshakes: c.kind,
        server: server === "plain" ? "plain tls.Server" : "router",
        connections: c[server].connections,
        resumed: pct(c[server].resumedShare, 1),
        "handshakes/s (all rounds)": num(c[server].perSecond, 0),
        "CPU µs/connection (all rounds)": num(c[server].cpuMsPerConnection * 1000, 0),
        "router/plain CPU": server === "router" ? times(c.cpuRatio, 3) : "",
        "handshakes/s": server === "router" ? times(c.rateRatio, 3) : "",
        errors: c[server].errors,
      })),
    );
    const worstCpu = max(cases.map((c) => c.cpuRatio));
    const worstRate = Math.min(...cases.map((c) => c.rateRatio));
    const which = (c: Case | undefined): string | undefined =>
      c === undefined ? undefined : `worst case: ${c.version}, ${c.kind} handshakes`;
    const goals = [
      atMost(
        "router CPU per connection over a plain tls.Server",
        worstCpu - 1,
        0.05,
        percentOver,
        which(cases.find((c) => c.cpuRatio === worstCpu)),
      ),
      atMost(
        "router: fewer handshakes per second than a plain tls.Server",
        1 - worstRate,
        0.05,
        percentOver,
        which(cases.find((c) => c.rateRatio === worstRate)),
      ),
    ];
    const chart = barChart({
      title: "Router / plain tls.Server (same key): 1.00 = no overhead",
      groups: cases.map((c) => `${c.version} ${c.kind}`),
      series: ["CPU per connection", "handshakes per second"],
      values: cases.map((c) => [c.cpuRatio, c.rateRatio]),
      yLabel: "router / plain",
      format: (v) => v.toFixed(2),
      references: [
        { value: 1.05, label: "+5% CPU" },
        { value: 0.95, label: "-5% handshakes/s" },
      ],
    });
    return {
      parameters,
      rows,
      goals,
      headlines: [
        `router / plain tls.Server: CPU per connection ${cases.map((c) => `${times(c.cpuRatio, 3)} (${c.version} ${c.kind})`).join(", ")}; handshakes per second ${cases.map((c) => `${times(c.rateRatio, 3)} (${c.version} ${c.kind})`).join(", ")}`,
      ],
      chart,
      details: cases.map((c) => ({
        ...c,
        cpuRatio: round(c.cpuRatio),
        rateRatio: round(c.rateRatio),
        pooledCpuRatio: round(c.pooledCpuRatio),
        pooledRateRatio: round(c.pooledRateRatio),
      })),
    };
  },
};
