/**
 * Scenario 5: the multi-key router's overhead. Four server processes hold the same active key:
 * a plain Node tls.Server in a process that loads nothing else (the baseline the goal names);
 * the same behind a bare handover (a net.Server reads the first bytes, puts them back and hands
 * the socket over, as the router must, but inspects nothing: what Node charges for reading a
 * ClientHello before TLS starts); a library replica in single-key mode (the tls.Server with the
 * library loaded); and a library replica in router mode (a ring of 3 keys). No balancer. Each
 * round loads the four at the same time, each with its own closed loop of clients, and measures
 * each one's handshakes per second and CPU per connection over the same window: TLS 1.2 and 1.3,
 * full handshakes (no session offered) and resumptions. Each ratio is the median of the rounds'
 * ratios.
 */
import type { TlsVersion } from "../../harness/clients/client.ts";
import { runLoad } from "../../harness/clients/handshake-load.ts";
import { atMost, percentOver } from "../lib/goals.ts";
import type { Scenario } from "../lib/scenario.ts";
import { measureTogether, totals, type Segment, type Totals } from "../lib/segments.ts";
import {
  startLibraryServer,
  startPlainServer,
  steadyRing,
  type ServerProcess,
} from "../lib/single-server.ts";
import { max, median, num, pct, round, times } from "../lib/stats.ts";
import { barChart } from "../../harness/report/svg.ts";

type Kind = "full" | "resumed";
type ServerName = "plain" | "peek" | "single" | "router";
const serverNames: readonly ServerName[] = ["plain", "peek", "single", "router"];
const labels: Record<ServerName, string> = {
  plain: "plain tls.Server",
  peek: "plain + handover only",
  single: "single-key (library)",
  router: "router",
};
type Baseline = Exclude<ServerName, "router">;

interface Ratios {
  /** router / baseline, the median of the rounds' ratios */
  cpu: number;
  rate: number;
  /** router / baseline over all rounds together */
  pooledCpu: number;
  pooledRate: number;
}

interface Case {
  version: TlsVersion;
  kind: Kind;
  totals: Record<ServerName, Totals>;
  /** the router against each baseline: the plain tls.Server process (the goal), the bare handover, single-key */
  vs: Record<Baseline, Ratios>;
}

function ratios(
  rounds: readonly Record<ServerName, Totals>[],
  all: Record<ServerName, Totals>,
  base: Baseline,
): Ratios {
  return {
    cpu: median(rounds.map((r) => r.router.cpuMsPerConnection / r[base].cpuMsPerConnection)),
    rate: median(rounds.map((r) => r.router.perSecond / r[base].perSecond)),
    pooledCpu: all.router.cpuMsPerConnection / all[base].cpuMsPerConnection,
    pooledRate: all.router.perSecond / all[base].perSecond,
  };
}

export const routerOverhead: Scenario = {
  name: "router-overhead",
  title: "Router overhead: the multi-key router vs a plain tls.Server on the same key",
  async run(context) {
    const parameters = {
      versions: ["TLSv1.2", "TLSv1.3"] as TlsVersion[],
      kinds: ["full", "resumed"] as Kind[],
      certificate: "p256",
      concurrencyPerServer: 3,
      warmupMs: 300,
      measureMs: context.quick ? 800 : 2000,
      rounds: context.quick ? 1 : 7,
      servers: serverNames.map((name) => labels[name]),
      ring: "3 keys (active, pending, a never-used padding key); the router routes each connection by its ClientHello",
      ratios: "router / baseline per round, median over the rounds (pooled ratios in the details)",
      clients:
        "in the benchmark process, straight to each server's port (no balancer); the four servers are loaded at the same time",
    };
    const cert = await context.cert("p256");
    const ring = steadyRing();
    const started: ServerProcess[] = [];
    const cases: Case[] = [];
    try {
      const start: Record<ServerName, () => Promise<ServerProcess>> = {
        plain: () => startPlainServer(cert, ring),
        peek: () => startPlainServer(cert, ring, { peek: true }),
        single: () => startLibraryServer("single", cert, ring),
        router: () => startLibraryServer("router", cert, ring),
      };
      // One at a time, each kept for the cleanup as soon as it runs.
      const servers = {} as Record<ServerName, ServerProcess>;
      for (const name of serverNames) {
        servers[name] = await start[name]();
        started.push(servers[name]);
      }
      // Warm every process up (JIT, TLS caches) before anything is measured.
      for (const version of parameters.versions) {
        for (const resume of [false, true]) {
          const until = Date.now() + (context.quick ? 200 : 500);
          await Promise.all(
            serverNames.map((name) =>
              runLoad({
                port: servers[name].port,
                ca: cert.ca,
                version,
                resume,
                concurrency: 2,
                until: () => Date.now() > until,
              }),
            ),
          );
        }
      }
      for (const version of parameters.versions) {
        for (const kind of parameters.kinds) {
          context.log(`${version}, ${kind} handshakes: ${parameters.rounds} rounds, four servers at once`);
          const rounds: Record<ServerName, Totals>[] = [];
          const segments: Record<ServerName, Segment[]> = { plain: [], peek: [], single: [], router: [] };
          for (let r = 0; r < parameters.rounds; r++) {
            const measured = await measureTogether(
              serverNames.map((name) => ({
                pids: () => [servers[name].pid],
                load: (until: () => boolean) =>
                  runLoad({
                    port: servers[name].port,
                    ca: cert.ca,
                    version,
                    resume: kind === "resumed",
                    concurrency: parameters.concurrencyPerServer,
                    until,
                  }),
              })),
              parameters.warmupMs,
              parameters.measureMs,
            );
            const round = {} as Record<ServerName, Totals>;
            serverNames.forEach((name, i) => {
              const segment = measured[i]!;
              segments[name].push(segment);
              round[name] = totals([segment]);
            });
            rounds.push(round);
          }
          const all = {
            plain: totals(segments.plain),
            peek: totals(segments.peek),
            single: totals(segments.single),
            router: totals(segments.router),
          };
          cases.push({
            version,
            kind,
            totals: all,
            vs: {
              plain: ratios(rounds, all, "plain"),
              peek: ratios(rounds, all, "peek"),
              single: ratios(rounds, all, "single"),
            },
          });
        }
      }
    } finally {
      await Promise.all(started.map((s) => s.stop()));
    }
    const rows = cases.flatMap((c) =>
      serverNames.map((server) => ({
        tls: c.version,
        handshakes: c.kind,
        server: labels[server],
        connections: c.totals[server].connections,
        resumed: pct(c.totals[server].resumedShare, 1),
        "handshakes/s (all rounds)": num(c.totals[server].perSecond, 0),
        "CPU µs/connection (all rounds)": num(c.totals[server].cpuMsPerConnection * 1000, 0),
        "router/this CPU": server === "router" ? "" : times(c.vs[server].cpu, 3),
        "router/this handshakes/s": server === "router" ? "" : times(c.vs[server].rate, 3),
        errors: c.totals[server].errors,
      })),
    );
    const worstCpu = max(cases.map((c) => c.vs.plain.cpu));
    const worstRate = Math.min(...cases.map((c) => c.vs.plain.rate));
    const which = (c: Case | undefined): string | undefined =>
      c === undefined
        ? undefined
        : `worst case: ${c.version}, ${c.kind} handshakes; the bare handover alone costs ${times(c.totals.peek.cpuMsPerConnection / c.totals.plain.cpuMsPerConnection, 3)} CPU; router vs the handover: CPU ${times(c.vs.peek.cpu, 3)}, handshakes/s ${times(c.vs.peek.rate, 3)}`;
    const goals = [
      atMost(
        "router CPU per connection over a plain tls.Server",
        worstCpu - 1,
        0.05,
        percentOver,
        which(cases.find((c) => c.vs.plain.cpu === worstCpu)),
      ),
      atMost(
        "router: fewer handshakes per second than a plain tls.Server",
        1 - worstRate,
        0.05,
        percentOver,
        which(cases.find((c) => c.vs.plain.rate === worstRate)),
      ),
    ];
    const chart = barChart({
      title: "Router / baseline (same key, loaded at the same time): 1.00 = no overhead",
      groups: cases.map((c) => `${c.version} ${c.kind}`),
      series: ["CPU / plain", "handshakes/s / plain", "CPU / handover only", "handshakes/s / handover only"],
      values: cases.map((c) => [c.vs.plain.cpu, c.vs.plain.rate, c.vs.peek.cpu, c.vs.peek.rate]),
      yLabel: "router / baseline",
      format: (v) => v.toFixed(2),
      references: [
        { value: 1.05, label: "+5% CPU" },
        { value: 0.95, label: "-5% handshakes/s" },
      ],
    });
    const list = (base: Baseline, pick: (r: Ratios) => number): string =>
      cases.map((c) => `${times(pick(c.vs[base]), 3)} (${c.version} ${c.kind})`).join(", ");
    return {
      parameters,
      rows,
      goals,
      headlines: (["plain", "peek", "single"] as const).map(
        (base) =>
          `router / ${labels[base]}: CPU per connection ${list(base, (r) => r.cpu)}; handshakes per second ${list(base, (r) => r.rate)}`,
      ),
      chart,
      details: cases.map((c) => ({
        version: c.version,
        kind: c.kind,
        totals: c.totals,
        vs: {
          plain: roundRatios(c.vs.plain),
          peek: roundRatios(c.vs.peek),
          single: roundRatios(c.vs.single),
        },
      })),
    };
  },
};

function roundRatios(r: Ratios): Record<keyof Ratios, number | null> {
  return {
    cpu: round(r.cpu),
    rate: round(r.rate),
    pooledCpu: round(r.pooledCpu),
    pooledRate: round(r.pooledRate),
  };
}
