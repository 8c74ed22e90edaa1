import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { serializeRing, type Ring } from "../../../src/core/index.ts";
import { directorySource } from "../../../src/consumer/sources/directory.ts";
import type { Rejection } from "../../../src/consumer/ring-source.ts";
import {
  assertNoKeyMaterial,
  capturingLogger,
  FakeClock,
  hour,
  ringHistory,
  secretsOf,
  t0,
  withTimeout,
} from "./support.ts";

const rings = ringHistory(2);
const clock = new FakeClock(t0 + 2 * hour + 2000);
const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "sidecar-dir-"));
  dirs.push(dir);
  return dir;
}

let generation = 0;

/** What kubelet does: a new timestamped directory, a ..data_tmp symlink renamed over ..data. */
async function kubeletWrite(dir: string, content: string): Promise<void> {
  const stamp = `..2026_11_22_10_00_00.${String(++generation).padStart(9, "0")}`;
  await mkdir(join(dir, stamp));
  await writeFile(join(dir, stamp, "ring.json"), content);
  await symlink(stamp, join(dir, "..data_tmp"));
  await rename(join(dir, "..data_tmp"), join(dir, "..data"));
}

async function kubeletVolume(content: string): Promise<string> {
  const dir = await tempDir();
  await kubeletWrite(dir, content);
  await symlink("..data/ring.json", join(dir, "ring.json"));
  return dir;
}

describe("directorySource", () => {
  it("follows kubelet's ..data symlink swap, rejects a malformed update and keeps the last good ring", async () => {
    const dir = await kubeletVolume(serializeRing(rings[0]!));
    const { log, lines } = capturingLogger();
    const source = directorySource({ path: dir, clock, log });
    try {
      assert.deepEqual(await source.start(), rings[0]);

      const next = once(source, "ring") as Promise<[Ring]>;
      await kubeletWrite(dir, serializeRing(rings[1]!));
      assert.deepEqual((await withTimeout(next))[0], rings[1]);

      const rejection = once(source, "rejected") as Promise<[Rejection]>;
      await kubeletWrite(dir, serializeRing(rings[2]!).slice(0, 100));
      const [{ reason }] = await withTimeout(rejection);
      assert.match(reason, /not valid UTF-8 JSON/);
      assert.deepEqual(source.current, rings[1], "the last good ring stays");

      const last = once(source, "ring") as Promise<[Ring]>;
      await kubeletWrite(dir, serializeRing(rings[2]!));
      assert.deepEqual((await withTimeout(last))[0], rings[2]);
      assertNoKeyMaterial(lines.join("\n"), secretsOf(...rings));
      assert.ok(lines.some((line) => line.includes("rejected")));
    } finally {
      await source.stop();
    }
  });

  it("follows a file replaced by rename", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "ring.json"), serializeRing(rings[0]!));
    const source = directorySource({ path: dir, clock, log: capturingLogger().log });
    try {
      await source.start();
      const next = once(source, "ring") as Promise<[Ring]>;
      await writeFile(join(dir, ".ring.json.tmp"), serializeRing(rings[1]!));
      await rename(join(dir, ".ring.json.tmp"), join(dir, "ring.json"));
      assert.deepEqual((await withTimeout(next))[0], rings[1]);
    } finally {
      await source.stop();
    }
  });

  it("waits for ring.json to appear", async () => {
    const dir = await tempDir();
    const source = directorySource({ path: dir, clock, log: capturingLogger().log });
    const errors: Error[] = [];
    source.on("error", (error) => errors.push(error));
    const reported = once(source, "error");
    try {
      const started = source.start();
      await withTimeout(reported);
      assert.match(errors[0]?.message ?? "", /cannot read .*ring\.json/);
      await writeFile(join(dir, "ring.json"), serializeRing(rings[0]!));
      assert.deepEqual(await withTimeout(started), rings[0]);
    } finally {
      await source.stop();
    }
  });

  it("re-reads on the safety timer when no event arrives", async () => {
    // ring.json points outside the watched directory: writing the target makes no event there.
    const dir = await tempDir();
    const elsewhere = await tempDir();
    await writeFile(join(elsewhere, "ring.json"), serializeRing(rings[0]!));
    await symlink(join(elsewhere, "ring.json"), join(dir, "ring.json"));
    const source = directorySource({ path: dir, clock, recheckMs: 100, log: capturingLogger().log });
    try {
      await source.start();
      const next = once(source, "ring") as Promise<[Ring]>;
      await writeFile(join(elsewhere, "ring.json"), serializeRing(rings[1]!));
      assert.deepEqual((await withTimeout(next, 2000))[0], rings[1]);
    } finally {
      await source.stop();
    }
  });

  it("stops cleanly while starting (no watcher is left behind)", async () => {
    const dir = await kubeletVolume(serializeRing(rings[0]!));
    const source = directorySource({ path: dir, clock, log: capturingLogger().log });
    const started = source.start();
    await source.stop();
    await assert.rejects(started, /stopped before the first ring arrived/);
  });

  it("fails to start on a directory that does not exist", async () => {
    const source = directorySource({
      path: join(tmpdir(), "no-such-ticket-keys-dir"),
      log: capturingLogger().log,
    });
    await assert.rejects(source.start(), /ticket key directory .*no-such-ticket-keys-dir is not readable/);
  });
});
