/**
 * Process figures from /proc: CPU time (utime + stime) and resident memory of a process, as the
 * kernel accounts them. Linux only, like the rest of the rig.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";

/** Clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK; 100 on every usual kernel). */
const ticksPerSecond = ((): number => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU seconds (user + system) a process has used so far, including its children that exited and
 * were waited for (a server's worker replaced at a reload: its time moves to the parent). A
 * process that is gone counts 0.
 */
export async function cpuSeconds(pid: number): Promise<number> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, "utf8");
  } catch {
    return 0;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14-17 of the line (utime, stime, cutime, cstime) are the 12th to 15th after the name.
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
  return ticks / ticksPerSecond;
}

/** CPU seconds of several processes together. */
export async function totalCpuSeconds(pids: readonly number[]): Promise<number> {
  const each = await Promise.all(pids.map((pid) => cpuSeconds(pid)));
  return each.reduce((a, b) => a + b, 0);
}

/** A process and all its descendants (e.g. a server's master and its workers), from /proc. */
export function processTree(pid: number): number[] {
  let children: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
      if (text !== "") children = children.concat(text.split(/\s+/).map(Number));
    }
  } catch {
    return [];
  }
  return [pid, ...children.flatMap((child) => processTree(child))];
}

async function statusField(pid: number, field: "VmRSS" | "VmHWM"): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? "0");
  return kb * 1024;
}

/** Resident memory now, bytes. */
export const rssBytes = (pid: number): Promise<number> => statusField(pid, "VmRSS");

/** Peak resident memory so far (VmHWM), bytes. */
export const peakRssBytes = (pid: number): Promise<number> => statusField(pid, "VmHWM");

export const mb = (bytes: number): number => Number((bytes / 2 ** 20).toFixed(1));
