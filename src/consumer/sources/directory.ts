/**
 * A mounted Secret directory. kubelet writes a Secret volume as
 *   <dir>/..2026_11_22_10_00_00.123456789/ring.json   (a timestamped directory)
 *   <dir>/..data -> ..2026_11_22_10_00_00.123456789   (swapped atomically: symlink + rename)
 *   <dir>/ring.json -> ..data/ring.json
 * so the files themselves never change: the DIRECTORY is watched, events are debounced, and
 * <dir>/ring.json is re-read. A slow safety timer re-reads it too, in case an event is lost. A
 * directory whose files are plainly replaced (write + rename) works the same way.
 */
import { watch, type FSWatcher } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";

import { ringDataKey } from "../../api/names.ts";
import { describeError } from "../../observability/log.ts";
import { BaseRingSource, type RingSourceOptions } from "../ring-source.ts";

export interface DirectorySourceOptions extends RingSourceOptions {
  /** The mounted directory. */
  path: string;
  /** The file in it; default "ring.json". */
  file?: string;
  /** How long to wait for a burst of events to end before reading; default 50 ms. */
  debounceMs?: number;
  /** The safety re-read interval; default 30 s. */
  recheckMs?: number;
}

export class DirectoryRingSource extends BaseRingSource {
  readonly path: string;
  readonly #file: string;
  readonly #debounceMs: number;
  readonly #recheckMs: number;
  #watcher: FSWatcher | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #recheck: NodeJS.Timeout | undefined;
  #reading: Promise<void> | undefined;
  #readAgain = false;
  #open = false;
  #closed = false;

  constructor(options: DirectorySourceOptions) {
    super(`directory ${options.path}`, options);
    this.path = options.path;
    this.#file = join(options.path, options.file ?? ringDataKey);
    this.#debounceMs = options.debounceMs ?? 50;
    this.#recheckMs = options.recheckMs ?? 30_000;
  }

  protected override async open(): Promise<void> {
    this.#closed = false;
    const isDirectory = await stat(this.path).then(
      (stats) => stats.isDirectory(),
      (error: unknown) => {
        throw new Error(`ticket key directory ${this.path} is not readable: ${describeError(error)}`, {
          cause: error,
        });
      },
    );
    if (!isDirectory) throw new Error(`ticket key directory ${this.path} is not a directory`);
    if (this.#wasClosed()) return; // stopped while opening
    this.#open = true;
    this.#watch();
    this.#recheck = setInterval(() => {
      if (this.#watcher === undefined) this.#watch();
      this.#read();
    }, this.#recheckMs);
    this.#recheck.unref();
    await this.#readNow();
  }

  protected override async close(): Promise<void> {
    this.#closed = true;
    this.#open = false;
    this.#watcher?.close();
    this.#watcher = undefined;
    clearTimeout(this.#debounce);
    clearInterval(this.#recheck);
    this.#debounce = undefined;
    this.#recheck = undefined;
    await this.#reading;
  }

  #watch(): void {
    try {
      const watcher = watch(this.path, { persistent: true }, () => {
        this.#schedule();
      });
      watcher.on("error", (error) => {
        watcher.close();
        if (this.#watcher === watcher) this.#watcher = undefined;
        this.report(new Error(`watching ${this.path} failed: ${describeError(error)}`));
      });
      this.#watcher = watcher;
    } catch (error) {
      // Retried by the safety timer.
      this.report(new Error(`cannot watch ${this.path}: ${describeError(error)}`));
    }
  }

  #schedule(): void {
    if (!this.#open) return;
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      this.#read();
    }, this.#debounceMs);
    this.#debounce.unref();
  }

  /** Reads the file; a read requested while one runs is done once more after it. */
  #read(): void {
    this.#readNow().catch(() => undefined);
  }

  async #readNow(): Promise<void> {
    if (this.#reading !== undefined) {
      this.#readAgain = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      do {
        this.#readAgain = false;
        await this.#readOnce();
      } while (this.#wantsAnotherRead());
    })().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  #wantsAnotherRead(): boolean {
    return this.#readAgain && this.#isOpen();
  }

  #wasClosed(): boolean {
    return this.#closed;
  }

  /** A method, not the field: the source may close while a read awaits. */
  #isOpen(): boolean {
    return this.#open;
  }

  async #readOnce(): Promise<void> {
    if (!this.#open) return;
    let bytes: Buffer;
    try {
      bytes = await readFile(this.#file);
    } catch (error) {
      this.report(new Error(`cannot read ${this.#file}: ${describeError(error)}`));
      return;
    }
    if (this.#isOpen()) this.offer(bytes);
  }
}

/** A source that follows ring.json in a mounted Secret directory (kubelet's `..data` swap). */
export function directorySource(options: DirectorySourceOptions): DirectoryRingSource {
  return new DirectoryRingSource(options);
}
