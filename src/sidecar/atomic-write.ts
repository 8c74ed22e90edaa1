/**
 * Writing renderings into the shared volume so that a server never reads a half-written file:
 * each file is written to a temporary file in the same directory, flushed, given its mode, then
 * renamed over the old one (rename(2) is atomic within a file system). A failed write leaves
 * the previous file in place; nothing is ever deleted (the server's config lists the files).
 */
import { randomBytes } from "node:crypto";
import { open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";

import { errorCode } from "./failure.ts";

/** Temporary files start with this prefix (and are removed on start if a crash left any). */
const tempPrefix = ".tko-";

export interface WriteResult {
  /** The files whose content or mode changed (unchanged files are not rewritten). */
  written: string[];
}

async function unchanged(path: string, bytes: Buffer, mode: number): Promise<boolean> {
  try {
    const [current, stats] = await Promise.all([readFile(path), stat(path)]);
    return (stats.mode & 0o777) === mode && current.equals(bytes);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return false;
    throw error;
  }
}

/** Writes one file atomically (temp file + rename in the same directory) with exactly `mode`. */
export async function writeFileAtomic(
  directory: string,
  name: string,
  bytes: Buffer,
  mode: number,
): Promise<void> {
  if (name.includes("/") || name.startsWith(".")) throw new Error(`invalid file name ${name}`);
  const temp = join(directory, `${tempPrefix}${name}.${randomBytes(6).toString("hex")}`);
  const handle = await open(temp, "wx", mode);
  try {
    await handle.writeFile(bytes);
    // The umask may have removed bits of `mode`; set it exactly.
    await handle.chmod(mode);
    await handle.datasync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, join(directory, name));
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * Writes every file of a rendering that differs from what is on disk (content or mode), each
 * atomically. Files are written in the order given.
 */
export async function writeFiles(
  directory: string,
  files: ReadonlyMap<string, Buffer>,
  mode: number,
): Promise<WriteResult> {
  const written: string[] = [];
  for (const [name, bytes] of files) {
    const path = join(directory, name);
    if (await unchanged(path, bytes, mode)) continue;
    await writeFileAtomic(directory, name, bytes, mode);
    written.push(name);
  }
  return { written };
}

/** Removes temporary files a previous run left behind (a crash between write and rename). */
export async function removeStaleTemporaries(directory: string): Promise<void> {
  const entries = await readdir(directory).catch(() => []);
  await Promise.all(
    entries
      .filter((name) => name.startsWith(tempPrefix))
      .map((name) => rm(join(directory, name), { force: true })),
  );
}
