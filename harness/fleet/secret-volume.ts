/**
 * A Secret volume written the way kubelet writes one: each update is a new timestamped
 * directory holding the files, a `..data_tmp` symlink to it renamed over `..data` (atomic), and
 * one `<file> -> ..data/<file>` symlink per key created once. The previous timestamped directory
 * is removed after the swap, as kubelet does.
 */
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export class SecretVolume {
  readonly path: string;
  #generation = 0;
  #current: string | undefined;
  readonly #files = new Set<string>();

  private constructor(path: string) {
    this.path = path;
  }

  /** An empty volume in a new temporary directory (or in `path`, which must exist and be empty). */
  static async create(path?: string): Promise<SecretVolume> {
    return new SecretVolume(path ?? (await mkdtemp(join(tmpdir(), "tko-volume-"))));
  }

  /** Replaces the volume's content with `files` (name -> bytes) in one atomic swap. */
  async write(files: Record<string, string | Buffer>): Promise<void> {
    const stamp = `..${new Date().toISOString().replace(/[-:T]/g, "_").replace("Z", "")}.${String(++this.#generation).padStart(9, "0")}`;
    await mkdir(join(this.path, stamp));
    await Promise.all(
      Object.entries(files).map(([name, data]) => writeFile(join(this.path, stamp, name), data)),
    );
    await symlink(stamp, join(this.path, "..data_tmp"));
    await rename(join(this.path, "..data_tmp"), join(this.path, "..data"));
    for (const name of Object.keys(files)) {
      if (this.#files.has(name)) continue;
      this.#files.add(name);
      await symlink(join("..data", name), join(this.path, name));
    }
    const previous = this.#current;
    this.#current = stamp;
    if (previous !== undefined) await rm(join(this.path, previous), { recursive: true, force: true });
  }
}
