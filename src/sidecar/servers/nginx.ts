/**
 * nginx: the key files nginx-0.key .. nginx-<n-1>.key (slot 0 encrypts), then SIGHUP to the
 * master and a confirmed reload (a new generation of workers; see nginx-master.ts). nginx reads
 * ssl_session_ticket_key files only when it loads its configuration, so every change of the
 * files needs a reload; the same files twice do not.
 */
import { setTimeout as sleep } from "node:timers/promises";

import { liveKeys, type Cipher, type Ring } from "../../core/index.ts";
import type { Logger } from "../../observability/log.ts";
import { errorCode, SidecarFailure } from "../failure.ts";
import { childrenOf, isNginxMaster, processTitle, type MasterLocator } from "../nginx-master.ts";
import { nginxSlotFiles } from "../renderings.ts";
import type { NotifyContext, NotifyResult, Rendering, ServerAdapter } from "./server.ts";

/**
 * True once the master runs a new generation of workers (a child it did not have before SIGHUP)
 * and none of the workers it had is still serving (each is gone or "is shutting down": it has
 * closed its listening sockets, so every new connection meets the new keys). nginx gives the new
 * workers 100 ms before it tells the old ones to stop, so a reload takes at least that long;
 * tickets issued meanwhile are under the previous key, which every replica still decrypts.
 */
async function reloaded(pid: number, before: ReadonlySet<number>, procRoot?: string): Promise<boolean> {
  const children = await childrenOf(pid, procRoot);
  if (![...children].some((child) => !before.has(child))) return false;
  for (const child of before) {
    const title = await processTitle(child, procRoot);
    if (title !== undefined && children.has(child) && !title.includes("shutting down")) return false;
  }
  return true;
}

export interface NginxOptions {
  cipher: Cipher;
  /** The slot count; default the first ring's key count (retiredKeys + 2), at least `existingSlots`. */
  slots: number | undefined;
  /** nginx-<n>.key files already in --out (a restarted sidecar keeps their count). */
  existingSlots: number;
  locator: MasterLocator;
  reloadTimeoutMs: number;
  log: Logger;
  procRoot?: string;
  /** How often the master's children are checked while waiting for the reload; default 20 ms. */
  pollMs?: number;
}

export class NginxServer implements ServerAdapter {
  readonly kind = "nginx";
  readonly #options: NginxOptions;
  #slots: number | undefined;
  #warnedSlots = false;

  constructor(options: NginxOptions) {
    this.#options = options;
    this.#slots = options.slots;
  }

  /** The constant slot count (known from the first ring on). */
  get slots(): number | undefined {
    return this.#slots;
  }

  render(ring: Ring, now: number): Rendering {
    this.#slots ??= Math.max(ring.keys.length, this.#options.existingSlots, 1);
    const live = liveKeys(ring, now).length;
    if (live > this.#slots && !this.#warnedSlots) {
      this.#warnedSlots = true;
      this.#options.log.warn(
        { liveKeys: live, slots: this.#slots },
        "more live keys than nginx key files: the oldest retired keys are left out (list more ssl_session_ticket_key files and set --slots)",
      );
    }
    return { files: nginxSlotFiles(ring, this.#options.cipher, now, this.#slots) };
  }

  async notify(_rendering: Rendering, context: NotifyContext): Promise<NotifyResult> {
    if (context.confirmed) return { action: "none", changed: false };
    const { locator, reloadTimeoutMs, procRoot } = this.#options;
    const pid = await locator.locate();
    const before = await childrenOf(pid, procRoot);
    try {
      process.kill(pid, "SIGHUP");
    } catch (error) {
      const code = errorCode(error);
      if (code === "ESRCH")
        throw new SidecarFailure("nginx-pid", `nginx master ${pid} (${locator.description}) exited`);
      throw new SidecarFailure(
        "nginx-signal",
        `cannot signal the nginx master ${pid}: ${code ?? String(error)} (run the sidecar as the nginx master's user, in a pod with shareProcessNamespace: true)`,
      );
    }
    const started = Date.now();
    for (;;) {
      await sleep(this.#options.pollMs ?? 20);
      if ((await isNginxMaster(pid, undefined, procRoot)) !== true) {
        throw new SidecarFailure("nginx-pid", `nginx master ${pid} exited during the reload`);
      }
      if (await reloaded(pid, before, procRoot)) return { action: "reloaded", changed: true };
      if (Date.now() - started > reloadTimeoutMs) {
        throw new SidecarFailure(
          "nginx-reload",
          `nginx master ${pid} started no new workers within ${reloadTimeoutMs} ms of SIGHUP: the reload failed (nginx's error log says why, e.g. an unreadable key file) or is slow (--reload-timeout)`,
        );
      }
    }
  }
}
