/**
 * Any other server: every rendering asked for (--formats), nginx and HAProxy with a constant key
 * count; the server is told by --exec (run by the updater after each change), if at all.
 */
import type { Ring } from "../../core/index.ts";
import { formatFiles, type FileRenderingOptions } from "../renderings.ts";
import type { NotifyResult, Rendering, ServerAdapter } from "./server.ts";

export interface FilesOptions extends Omit<FileRenderingOptions, "slots"> {
  /** nginx slot count; default the first ring's key count, at least `existingSlots`. */
  slots: number | undefined;
  existingSlots: number;
}

export class FilesServer implements ServerAdapter {
  readonly kind = "files";
  readonly #options: FilesOptions;
  #slots: number | undefined;

  constructor(options: FilesOptions) {
    this.#options = options;
    this.#slots = options.slots;
  }

  render(ring: Ring, now: number): Rendering {
    this.#slots ??= Math.max(ring.keys.length, this.#options.existingSlots, 1);
    return { files: formatFiles(ring, now, { ...this.#options, slots: this.#slots }) };
  }

  notify(): Promise<NotifyResult> {
    return Promise.resolve({ action: "none", changed: false });
  }
}
