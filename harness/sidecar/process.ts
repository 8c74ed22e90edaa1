/**
 * `ticket-key-operator sidecar` as a child process for the tests (from the sources, or the bundle
 * TKO_OPERATOR_BIN names; with spawnBound: it dies with the test). Its JSON log lines are
 * kept (for assertions and the key-leak scan) and its /metrics and /readyz are read on the
 * loopback ports it reports in its "sidecar starting" line. What the tests measure through the
 * sidecars' servers is measure.ts; the schedule's keys, keys.ts; the leak scan, leaks.ts.
 */
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { operatorArgs } from "../operator/command.ts";
import { spawnBound } from "../spawn.ts";

export interface LogLine {
  level?: string;
  msg?: string;
  kind?: string;
  err?: string;
  action?: string;
  activeKey?: string;
  ms?: number;
  [field: string]: unknown;
}

export interface SidecarProcess {
  name: string;
  child: ChildProcess;
  /** every line it wrote (stdout and stderr) */
  lines: string[];
  /** its parsed JSON log lines */
  logs: LogLine[];
  /** GET /metrics */
  metrics(): Promise<string>;
  /** the sum of a metric's samples whose labels include `labels` */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  ready(): Promise<boolean>;
  /** resolves with the first log line (from `from` on) that matches */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number, from?: number): Promise<LogLine>;
  stop(): Promise<void>;
}

/** Parses Prometheus text: the sum of the samples of `name` whose labels include `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const have = new Map<string, string>();
    for (const m of (match[3] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have.set(m[1] ?? "", m[2] ?? "");
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(match[4]);
  }
  return sum;
}

export async function startSidecar(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<SidecarProcess> {
  const child = spawnBound(
    process.execPath,
    operatorArgs(["sidecar", ...args, "--metrics-address=127.0.0.1:0", "--health-address=127.0.0.1:0"]),
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } },
  );
  const lines: string[] = [];
  const logs: LogLine[] = [];
  const waiters = new Set<() => void>();
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on("line", (line) => {
      lines.push(line);
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ msg: line });
      }
      if (process.env["TKO_TEST_VERBOSE"]) console.log(`  [sidecar ${name}] ${line}`);
      for (const wake of waiters) wake();
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  const waitForLog = (
    predicate: (line: LogLine) => boolean,
    timeoutMs = 15_000,
    from = 0,
  ): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = logs.slice(from).find(predicate);
        if (found === undefined) return false;
        cleanup();
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `sidecar ${name}: no matching log line within ${timeoutMs} ms:\n${lines.slice(-20).join("\n")}`,
          ),
        );
      }, timeoutMs);
      const onExit = (): void => {
        cleanup();
        reject(new Error(`sidecar ${name} exited:\n${lines.slice(-20).join("\n")}`));
      };
      const wake = (): void => void check();
      const cleanup = (): void => {
        clearTimeout(timer);
        waiters.delete(wake);
        child.off("exit", onExit);
      };
      if (check()) return;
      waiters.add(wake);
      child.once("exit", onExit);
    });

  const starting = await waitForLog((l) => l.msg === "sidecar starting");
  const metricsAddress = String(starting["metrics"]);
  const healthAddress = String(starting["health"]);
  const get = async (address: string, path: string): Promise<Response> => fetch(`http://${address}${path}`);
  return {
    name,
    child,
    lines,
    logs,
    metrics: async () => (await get(metricsAddress, "/metrics")).text(),
    metric: async (metric, labels) =>
      metricValue(await (await get(metricsAddress, "/metrics")).text(), metric, labels),
    ready: async () => (await get(healthAddress, "/readyz")).status === 200,
    waitForLog,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Resolves once the sidecar's /readyz answers 200 (its renderings are written). */
export async function waitUntilReady(sidecar: SidecarProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await sidecar.ready().catch(() => false))) {
    if (sidecar.child.exitCode !== null)
      throw new Error(`sidecar ${sidecar.name} exited:\n${sidecar.lines.join("\n")}`);
    if (Date.now() > deadline)
      throw new Error(`sidecar ${sidecar.name} not ready:\n${sidecar.lines.slice(-20).join("\n")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The time of a log line (pino's ISO "time"), epoch ms. */
export function logTime(line: LogLine): number {
  return Date.parse(typeof line["time"] === "string" ? line["time"] : "");
}
