/**
 * Finding the nginx master process and confirming that it reloaded, through /proc.
 *
 * The master is found from its pid file (on a volume shared with nginx) or by its process title
 * (`nginx: master process ...`, which nginx sets itself). In a pod both need
 * `shareProcessNamespace: true`: a pid from another pid namespace means nothing here. A pid is
 * only ever signalled after /proc confirms it is an nginx master: a stale pid file may name a
 * recycled pid of another process.
 *
 * A reload is confirmed when the master has a child it did not have before SIGHUP: nginx starts
 * a new generation of workers only after it has read the whole configuration again (including
 * every ssl_session_ticket_key file); when the new configuration fails, it logs the error and
 * keeps the old workers, so no new child appears.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

import { errorCode, SidecarFailure } from "./failure.ts";

/** nginx titles its master "<name>: master process <command line>". */
const masterTitle = /^([^:\0]+): master process/;

/** The process title of `pid` (its cmdline, NULs as spaces), or undefined if it does not exist. */
export async function processTitle(pid: number, procRoot = "/proc"): Promise<string | undefined> {
  try {
    const raw = await readFile(join(procRoot, String(pid), "cmdline"), "utf8");
    return raw.replace(/\0+$/, "").replaceAll("\0", " ");
  } catch (error) {
    const code = errorCode(error);
    if (code === "ENOENT" || code === "ESRCH") return undefined;
    throw error;
  }
}

/** Whether `pid` is an nginx master (of any name, or of `name`); undefined when it does not exist. */
export async function isNginxMaster(
  pid: number,
  name?: string,
  procRoot = "/proc",
): Promise<boolean | undefined> {
  const title = await processTitle(pid, procRoot);
  if (title === undefined) return undefined;
  const match = masterTitle.exec(title);
  return match !== null && (name === undefined || match[1] === name);
}

/** Pids of the numbered entries of /proc. */
async function pids(procRoot: string): Promise<number[]> {
  return (await readdir(procRoot))
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .sort((a, b) => a - b);
}

/** The parent pid of `pid` from /proc/<pid>/stat, or undefined if it is gone. */
async function parentOf(pid: number, procRoot: string): Promise<number | undefined> {
  try {
    const stat = await readFile(join(procRoot, String(pid), "stat"), "utf8");
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ppid = Number(fields[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The child pids of `pid`: /proc/<pid>/task/<tid>/children when the kernel has it
 * (CONFIG_PROC_CHILDREN), else a scan of every /proc/<n>/stat.
 */
export async function childrenOf(pid: number, procRoot = "/proc"): Promise<Set<number>> {
  const children = new Set<number>();
  try {
    const tasks = await readdir(join(procRoot, String(pid), "task"));
    for (const task of tasks) {
      const text = await readFile(join(procRoot, String(pid), "task", task, "children"), "utf8");
      for (const child of text.trim().split(/\s+/)) if (child !== "") children.add(Number(child));
    }
    return children;
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw error;
  }
  for (const candidate of await pids(procRoot)) {
    if ((await parentOf(candidate, procRoot)) === pid) children.add(candidate);
  }
  return children;
}

/** Where the master's pid comes from. */
export interface MasterLocator {
  /** For logs: "pid file /run/nginx/nginx.pid", "process name nginx". */
  readonly description: string;
  /** The master's pid, checked in /proc. Throws SidecarFailure("nginx-pid"). */
  locate(): Promise<number>;
}

export function pidFileLocator(path: string, procRoot = "/proc"): MasterLocator {
  return {
    description: `pid file ${path}`,
    async locate() {
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch (error) {
        throw new SidecarFailure(
          "nginx-pid",
          `cannot read the nginx pid file ${path}: ${errorCode(error) ?? String(error)} (is nginx running, writing its pid there?)`,
        );
      }
      const pid = Number(text.trim());
      if (!Number.isInteger(pid) || pid <= 0) {
        throw new SidecarFailure("nginx-pid", `the nginx pid file ${path} does not hold a pid`);
      }
      const master = await isNginxMaster(pid, undefined, procRoot);
      if (master === undefined) {
        throw new SidecarFailure(
          "nginx-pid",
          `stale nginx pid file ${path}: no process ${pid} (nginx exited, or the pod lacks shareProcessNamespace: true)`,
        );
      }
      if (!master) {
        throw new SidecarFailure(
          "nginx-pid",
          `stale nginx pid file ${path}: process ${pid} is not an nginx master; not signalling it`,
        );
      }
      return pid;
    },
  };
}

export function processNameLocator(name: string, procRoot = "/proc"): MasterLocator {
  return {
    description: `process name ${name}`,
    async locate() {
      const masters: number[] = [];
      for (const pid of await pids(procRoot)) {
        if ((await isNginxMaster(pid, name, procRoot)) === true) masters.push(pid);
      }
      const [first, ...others] = masters;
      if (first === undefined) {
        throw new SidecarFailure(
          "nginx-pid",
          `no "${name}: master process" in ${procRoot} (is nginx running? the pod needs shareProcessNamespace: true)`,
        );
      }
      if (others.length > 0) {
        throw new SidecarFailure(
          "nginx-pid",
          `several nginx masters (${masters.join(", ")}): use --nginx-pid-file to choose one`,
        );
      }
      return first;
    },
  };
}
