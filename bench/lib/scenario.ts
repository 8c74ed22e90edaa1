/**
 * What every benchmark scenario is: a named function of a shared context that returns its
 * table, its goals, its chart and its raw figures. bench/index.ts runs them and writes
 * bench/results/<scenario>.json and .svg and the summary.
 */
import type { Cluster } from "../../harness/cluster/index.ts";
import type { KeyType, ServerCert } from "../../harness/tls/certs.ts";
import type { Goal } from "./goals.ts";
import type { Row } from "./table.ts";

export interface BenchContext {
  /** A short smoke run: every scenario in seconds, figures not meaningful. */
  readonly quick: boolean;
  log(line: string): void;
  /** A throwaway server certificate of that key type (made once per run). */
  cert(type: KeyType): Promise<ServerCert>;
  /** The cluster (the local control plane, started on first use, or KUBECONFIG / --kubeconfig). */
  cluster(): Promise<Cluster>;
}

export interface ScenarioResult {
  /** The run's parameters, recorded with the figures. */
  parameters: Record<string, unknown>;
  /** The table printed and written. */
  rows: Row[];
  goals: Goal[];
  /** One line per headline figure, for the summary (Markdown). */
  headlines: string[];
  /** The chart, an SVG document. */
  chart: string;
  /** Everything else measured (per rotation, per update, ...). */
  details?: unknown;
}

export interface Scenario {
  /** The file name of its results, and the name --only takes. */
  name: string;
  title: string;
  run(context: BenchContext): Promise<ScenarioResult>;
}

/** What bench/results/<scenario>.json holds. */
export interface ResultFile extends Omit<ScenarioResult, "chart"> {
  scenario: string;
  title: string;
  quick: boolean;
  measuredAt: string;
  durationSeconds: number;
  machine: {
    cpus: number;
    node: string;
    /** 1-minute load average before and after the scenario: how busy the machine was. */
    loadBefore: number;
    loadAfter: number;
  };
  chart: string;
}
