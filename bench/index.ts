/**
 * `npm run bench`: every benchmark scenario in sequence, unattended. Each prints its table and
 * its distance to the goals of issue 7, and writes bench/results/<scenario>.json (parameters,
 * machine load, every figure) and <scenario>.svg; then bench/results/summary.md is rewritten
 * from every result file. Not part of `npm test`.
 *
 *   node bench/index.ts [--only resumption,rotation,cpu,propagation,router-overhead,scale]
 *                       [--quick] [--kubeconfig PATH]
 *
 * --quick is a smoke run of every scenario in a few minutes (figures not meaningful), written
 * to bench/results/quick/ so it never replaces the committed figures. The local control plane
 * (or the cluster of --kubeconfig / KUBECONFIG) is started once, for the scenarios that need it.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { useCluster, type Cluster } from "../harness/cluster/index.ts";
import { makeServerCert, type KeyType, type ServerCert } from "../harness/tls/certs.ts";
import { goalLine } from "./lib/goals.ts";
import type { BenchContext, ResultFile } from "./lib/scenario.ts";
import { writeSummary } from "./lib/summary.ts";
import { textTable } from "./lib/table.ts";
import { scenarios } from "./scenarios/index.ts";

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: "string" },
      quick: { type: "boolean", default: false },
      kubeconfig: { type: "string" },
    },
  });
  const names = scenarios.map((s) => s.name);
  const only = values.only
    ?.split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const unknown = only?.filter((n) => !names.includes(n)) ?? [];
  if (unknown.length > 0)
    throw new Error(`unknown scenario ${unknown.join(", ")}; scenarios: ${names.join(", ")}`);
  const selected = scenarios.filter((s) => only === undefined || only.includes(s.name));
  const quick = values.quick;
  const dir = quick ? join("bench", "results", "quick") : join("bench", "results");
  await mkdir(dir, { recursive: true });

  const certs = new Map<KeyType, Promise<ServerCert>>();
  let cluster: Promise<Cluster> | undefined;
  const started = Date.now();
  const context = (scenario: string): BenchContext => ({
    quick,
    log: (line) => {
      console.log(`[${scenario} ${((Date.now() - started) / 1000).toFixed(0)} s] ${line}`);
    },
    cert: (type) => {
      let cert = certs.get(type);
      if (cert === undefined) {
        cert = makeServerCert(type);
        certs.set(type, cert);
      }
      return cert;
    },
    cluster: () => {
      cluster ??= useCluster(
        (line) => console.log(`[control-plane] ${line}`),
        [...(values.kubeconfig === undefined ? [] : ["--kubeconfig", values.kubeconfig])],
      );
      return cluster;
    },
  });

  console.log(
    `${quick ? "quick smoke run" : "benchmark run"} of ${selected.map((s) => s.name).join(", ")}; results in ${dir}/`,
  );
  const failures: string[] = [];
  try {
    for (const scenario of selected) {
      console.log(`\n== ${scenario.title} (${scenario.name}) ==`);
      const loadBefore = loadavg()[0] ?? 0;
      const t0 = Date.now();
      try {
        const result = await scenario.run(context(scenario.name));
        const file: ResultFile = {
          scenario: scenario.name,
          title: scenario.title,
          quick,
          measuredAt: new Date().toISOString(),
          durationSeconds: Math.round((Date.now() - t0) / 100) / 10,
          machine: { cpus: cpus().length, node: process.version, loadBefore, loadAfter: loadavg()[0] ?? 0 },
          ...result,
          chart: `${scenario.name}.svg`,
        };
        console.log(textTable(result.rows));
        for (const goal of result.goals) console.log(goalLine(goal));
        await writeFile(join(dir, `${scenario.name}.json`), `${JSON.stringify(file, null, 2)}\n`);
        await writeFile(join(dir, `${scenario.name}.svg`), result.chart);
        console.log(`wrote ${join(dir, `${scenario.name}.json`)} and .svg (${file.durationSeconds} s)`);
      } catch (err) {
        failures.push(scenario.name);
        console.error(`scenario ${scenario.name} failed:`, err);
      }
    }
  } finally {
    if (cluster !== undefined) await (await cluster.catch(() => undefined))?.stop();
  }
  await writeSummary(dir, names);
  console.log(
    `\nwrote ${join(dir, "summary.md")}; whole run ${((Date.now() - started) / 1000).toFixed(0)} s${failures.length > 0 ? `; FAILED: ${failures.join(", ")}` : ""}`,
  );
  return failures.length > 0 ? 1 : 0;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
