/**
 * bench/results/summary.md: the latest figures of every scenario that has a result file, with
 * the distance to each goal. Built from the result files, so a run of some scenarios (--only)
 * keeps the others' latest figures.
 */
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ResultFile } from "./scenario.ts";
import { markdownTable } from "./table.ts";

export async function writeSummary(dir: string, order: readonly string[]): Promise<string> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".json"));
  const results: ResultFile[] = [];
  for (const file of files) {
    try {
      const parsed = JSON.parse(await readFile(join(dir, file), "utf8")) as Partial<ResultFile>;
      if (typeof parsed.scenario === "string" && Array.isArray(parsed.goals))
        results.push(parsed as ResultFile);
    } catch {
      // not a result file
    }
  }
  const rank = (r: ResultFile): number => {
    const i = order.indexOf(r.scenario);
    return i < 0 ? order.length : i;
  };
  results.sort((a, b) => rank(a) - rank(b));
  const goalRows = results.flatMap((r) =>
    r.goals.map((g) => ({
      scenario: r.scenario,
      goal: g.name,
      target: g.target,
      measured: g.measured,
      // NaN was written as null.
      distance: typeof (g.ratio as unknown) === "number" ? `${g.ratio.toFixed(2)}x ${g.ratioOf}` : "-",
      met: g.met ? "yes" : "**no**",
      note: g.note ?? "",
    })),
  );
  const quick = results.some((r) => r.quick);
  const lines = [
    "# Benchmark results",
    "",
    "The latest figures of `npm run bench` (bench/index.ts). Every figure is a rate or a ratio measured side by",
    "side in one run on the same machine; `<scenario>.json` records the run's parameters, the machine's load and",
    "every raw figure, `<scenario>.svg` is the chart. A distance <= 1 meets the goal (see bench/lib/goals.ts).",
    ...(quick
      ? ["", "**Some results below come from a `--quick` smoke run: they only show that the bench works.**"]
      : []),
    "",
    "## Goals",
    "",
    markdownTable(goalRows),
    "",
    "## Scenarios",
    "",
  ];
  for (const r of results) {
    lines.push(
      `### ${r.title}${r.quick ? " (quick run)" : ""}`,
      "",
      `Measured ${r.measuredAt} in ${Math.round(r.durationSeconds)} s on ${r.machine.cpus} CPUs (load ${r.machine.loadBefore.toFixed(1)} -> ${r.machine.loadAfter.toFixed(1)}), Node ${r.machine.node}: [figures](${r.scenario}.json), [chart](${r.scenario}.svg).`,
      "",
      ...r.headlines.map((h) => `- ${h}`),
      "",
    );
  }
  const text = `${lines.join("\n").trimEnd()}\n`;
  await writeFile(join(dir, "summary.md"), text);
  return text;
}
