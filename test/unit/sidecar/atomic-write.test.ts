/** The atomic writer: temp file + rename in the same directory, exact mode, unchanged files skipped. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

import { removeStaleTemporaries, writeFileAtomic, writeFiles } from "../../../src/sidecar/atomic-write.ts";

const temp = (): Promise<string> => mkdtemp(join(tmpdir(), "tko-atomic-"));

describe("atomic writes", () => {
  it("writes with exactly the mode asked for, whatever the umask, and leaves no temporary file", async () => {
    const dir = await temp();
    const previous = process.umask(0o077);
    try {
      await writeFileAtomic(dir, "a.key", Buffer.from("one"), 0o640);
    } finally {
      process.umask(previous);
    }
    assert.equal((await stat(join(dir, "a.key"))).mode & 0o777, 0o640);
    await writeFileAtomic(dir, "a.key", Buffer.from("two"), 0o600);
    assert.equal((await stat(join(dir, "a.key"))).mode & 0o777, 0o600);
    assert.equal(await readFile(join(dir, "a.key"), "utf8"), "two");
    assert.deepEqual(await readdir(dir), ["a.key"]);
  });

  it("replaces the file by a rename: a new inode; a reader never sees a partial file", async () => {
    const dir = await temp();
    const versions = Array.from({ length: 40 }, (_, i) => Buffer.alloc(64 * 1024, i + 1));
    await writeFileAtomic(dir, "big.key", versions[0]!, 0o600);
    const inode = (await stat(join(dir, "big.key"))).ino;
    await writeFileAtomic(dir, "big.key", versions[0]!, 0o600);
    assert.notEqual((await stat(join(dir, "big.key"))).ino, inode, "a new file renamed over the old one");
    const state = { writing: true };
    let reads = 0;
    const reader = (async () => {
      while (state.writing) {
        const bytes = await readFile(join(dir, "big.key"));
        reads++;
        assert.equal(bytes.length, 64 * 1024, "a whole file");
        assert.ok(
          bytes.every((b) => b === bytes[0]),
          "one version, not a mix",
        );
      }
    })();
    for (const version of versions.slice(1)) await writeFileAtomic(dir, "big.key", version, 0o600);
    state.writing = false;
    await reader;
    assert.ok(reads > 0);
  });

  it("skips files whose content and mode are unchanged; rewrites a changed mode", async () => {
    const dir = await temp();
    const files = new Map([
      ["nginx-0.key", randomBytes(80)],
      ["nginx-1.key", randomBytes(80)],
    ]);
    assert.deepEqual((await writeFiles(dir, files, 0o600)).written, ["nginx-0.key", "nginx-1.key"]);
    const inode = (await stat(join(dir, "nginx-0.key"))).ino;
    assert.deepEqual((await writeFiles(dir, files, 0o600)).written, []);
    assert.equal((await stat(join(dir, "nginx-0.key"))).ino, inode, "not rewritten");
    files.set("nginx-1.key", randomBytes(80));
    assert.deepEqual((await writeFiles(dir, files, 0o600)).written, ["nginx-1.key"]);
    assert.deepEqual((await writeFiles(dir, files, 0o640)).written, ["nginx-0.key", "nginx-1.key"]);
  });

  it("a failed write leaves the previous file in place and no temporary file", async () => {
    const dir = await temp();
    await writeFile(join(dir, "keep.key"), "previous");
    // The target name is a non-empty directory: the rename fails.
    await mkdir(join(dir, "blocked.key"));
    await writeFile(join(dir, "blocked.key", "x"), "");
    await assert.rejects(writeFileAtomic(dir, "blocked.key", Buffer.from("new"), 0o600));
    await assert.rejects(writeFileAtomic(join(dir, "missing"), "keep.key", Buffer.from("new"), 0o600));
    assert.equal(await readFile(join(dir, "keep.key"), "utf8"), "previous");
    assert.deepEqual((await readdir(dir)).sort(), ["blocked.key", "keep.key"]);
  });

  it("never writes outside the directory; removes temporaries a crash left behind", async () => {
    const dir = await temp();
    await assert.rejects(writeFileAtomic(dir, "../x", Buffer.from(""), 0o600));
    await assert.rejects(writeFileAtomic(dir, ".hidden", Buffer.from(""), 0o600));
    await writeFile(join(dir, ".tko-nginx-0.key.0a1b2c"), "half");
    await writeFile(join(dir, "nginx-0.key"), "whole");
    await removeStaleTemporaries(dir);
    assert.deepEqual(await readdir(dir), ["nginx-0.key"]);
  });
});
