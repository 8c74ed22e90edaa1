/**
 * `--exec "<command>"`: run after each update that changed the files (and again after a failed
 * run), through /bin/sh, with a timeout. Its output goes to the sidecar's stderr, never into the
 * sidecar's log lines (it could print anything). On timeout its whole process group is killed.
 */
import { spawn } from "node:child_process";

import { SidecarFailure } from "./failure.ts";

export interface ExecOptions {
  command: string;
  timeoutMs: number;
  /** Added to the sidecar's environment. */
  env: Record<string, string>;
}

export function runCommand(options: ExecOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", options.command], {
      stdio: ["ignore", 2, 2],
      env: { ...process.env, ...options.env },
      detached: true,
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
      }
    }, options.timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new SidecarFailure("exec", `--exec could not start: ${error.message}`));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new SidecarFailure("exec", `--exec did not finish within ${options.timeoutMs} ms: killed`));
      } else if (code === 0) {
        resolve();
      } else {
        reject(
          new SidecarFailure(
            "exec",
            `--exec ${code === null ? `was killed by ${signal ?? "a signal"}` : `exited with ${code}`}`,
          ),
        );
      }
    });
  });
}
