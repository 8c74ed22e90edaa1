/**
 * HAProxy: no reload. The keys go in through the runtime API (`set ssl tls-key`, see
 * haproxy-plan.ts for its semantics), are read back with `show tls-keys <ref>` and compared
 * with the target window byte for byte; haproxy.keys (the `tls-ticket-keys` file) is kept equal
 * to that window, so a restarted HAProxy loads exactly what the runtime held.
 *
 * Every notification reads HAProxy's keys first, so a restarted HAProxy (which loads the file),
 * a change made by hand or a failed earlier push are all corrected by the same path.
 */
import { haproxyFileName, keyId, type Cipher, type Ring } from "../../core/index.ts";
import { SidecarFailure } from "../failure.ts";
import { planPushes, sameKeys } from "../haproxy-plan.ts";
import type { HaproxyRuntime } from "../haproxy-runtime.ts";
import { haproxyKeyBytes, haproxyKeysFile, haproxyWindow } from "../renderings.ts";
import type { NotifyResult, Rendering, ServerAdapter } from "./server.ts";

/** HAProxy's default TLS_TICKETS_NO: the keys it holds per tls-ticket-keys file. */
export const haproxyDefaultKeys = 3;

export interface HaproxyOptions {
  cipher: Cipher;
  runtime: HaproxyRuntime;
  /** The tls-ticket-keys reference (file name as HAProxy names it, or #<id>); default: found. */
  ref: string | undefined;
}

/** Short ids of a window's keys ("3f2a9c01,..."), from their names: never key bytes. */
function ids(keys: readonly Buffer[]): string {
  return keys.map((bytes) => (bytes.length >= 16 ? keyId({ name: bytes.subarray(0, 16) }) : "?")).join(",");
}

export class HaproxyServer implements ServerAdapter {
  readonly kind = "haproxy";
  readonly #options: HaproxyOptions;
  #size = haproxyDefaultKeys;
  #ref: string | undefined;

  constructor(options: HaproxyOptions) {
    this.#options = options;
    this.#ref = options.ref;
  }

  render(ring: Ring, now: number): Rendering {
    const keys = haproxyKeyBytes(haproxyWindow(ring, now, this.#size), this.#options.cipher);
    return { files: new Map([[haproxyFileName, haproxyKeysFile(keys)]]), runtimeKeys: keys };
  }

  async notify(rendering: Rendering): Promise<NotifyResult> {
    const target = rendering.runtimeKeys ?? [];
    const { runtime } = this.#options;
    const ref = await this.#resolveRef();
    let current: Buffer[];
    try {
      current = await runtime.showKeys(ref);
    } catch (error) {
      if (this.#options.ref === undefined) this.#ref = undefined; // found again next time
      throw error;
    }
    if (current.length !== target.length) {
      // HAProxy built with another TLS_TICKETS_NO: render that many from now on.
      this.#size = current.length;
      throw new SidecarFailure(
        "haproxy-verify",
        `HAProxy holds ${current.length} keys per tls-ticket-keys file, not ${target.length}; rendering ${current.length} from now on`,
      );
    }
    const size = target[0]?.length;
    if (current.some((bytes) => bytes.length !== size)) {
      throw new SidecarFailure(
        "haproxy-verify",
        `HAProxy holds keys of ${current[0]?.length ?? 0} bytes but --cipher ${this.#options.cipher} renders ${size ?? 0}: use the cipher of the keys file HAProxy loaded`,
      );
    }
    const pushes = planPushes(current, target);
    if (pushes.length === 0) return { action: "in sync", changed: false };
    const after = await runtime.pushKeys(ref, pushes);
    if (!sameKeys(after, target)) {
      throw new SidecarFailure(
        "haproxy-verify",
        `after set ssl tls-key, HAProxy holds keys [${ids(after)}], expected [${ids(target)}]`,
      );
    }
    return { action: `pushed ${pushes.length} key${pushes.length === 1 ? "" : "s"}`, changed: true };
  }

  /** The configured reference, or the only tls-ticket-keys file HAProxy loaded (preferring haproxy.keys). */
  async #resolveRef(): Promise<string> {
    if (this.#ref !== undefined) return this.#ref;
    const refs = await this.#options.runtime.listRefs();
    const named = refs.filter(
      (ref) => ref.file.endsWith(`/${haproxyFileName}`) || ref.file === haproxyFileName,
    );
    const only = refs.length === 1 ? refs[0] : named.length === 1 ? named[0] : undefined;
    if (only === undefined) {
      throw new SidecarFailure(
        "haproxy-command",
        refs.length === 0
          ? "HAProxy loaded no tls-ticket-keys file (add `tls-ticket-keys <dir>/haproxy.keys` to the bind line)"
          : `HAProxy loaded several tls-ticket-keys files (${refs.map((ref) => ref.file).join(", ")}): choose one with --haproxy-keys-ref`,
      );
    }
    this.#ref = only.file;
    return only.file;
  }
}
