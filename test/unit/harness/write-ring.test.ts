/**
 * The rig's ring writer (harness/fleet/fleet.ts writeRing): updates of one directory land in the order
 * they were made, as kubelet's updates of one volume do. Feeders write an expiry and a rotation a
 * millisecond apart; if the older ring could land last, a replica would miss an activation and the
 * benchmark would blame the library.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { nextRing, serializeRing, type Ring } from "../../../src/core/index.ts";
import { writeRing } from "../../../harness/fleet/fleet.ts";

it("writes issued together land in call order: the last one wins, no temporary file is left", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tko-write-ring-"));
  try {
    const spec = { rotationIntervalMs: 1000, retiredKeys: 1, suspend: false };
    const rings: Ring[] = [];
    let previous: Ring | undefined;
    for (let i = 0; i < 40; i++) {
      previous = nextRing({ previous, spec, now: 1_700_000_000_000 + i * 1000, random: randomBytes }).ring;
      rings.push(previous);
    }
    for (let round = 0; round < 5; round++) {
      await Promise.all(rings.map((ring) => writeRing(dir, ring)));
      assert.equal(await readFile(join(dir, "ring.json"), "utf8"), serializeRing(rings.at(-1)!));
    }
    assert.deepEqual(await readdir(dir), ["ring.json"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
