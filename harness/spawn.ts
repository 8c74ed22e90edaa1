/**
 * Child processes that cannot outlive the test or demo that started them: `setpriv --pdeathsig`
 * has the kernel send SIGKILL to the child when its parent dies, whatever the reason (a test
 * runner's timeout, kill -9, a crash).
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";

export function spawnBound(command: string, args: string[], options: SpawnOptions): ChildProcess {
  return spawn("setpriv", ["--pdeathsig", "SIGKILL", "--", command, ...args], options);
}
