/**
 * The sidecar process itself (src/sidecar/main.ts): probes and metrics, the files of
 * `--server files` with --exec, a clean SIGTERM, and how it fails at start (bad flags: exit 2;
 * a source that cannot work: exit 1 with one clear log line).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";

import { activeKey, keyId, nextRing, renderKey } from "../../../src/core/index.ts";
import { writeRing } from "../../../harness/fleet/fleet.ts";
import { findLeaks, keyNeedles } from "../../../harness/leaks.ts";
import { startSidecar } from "../../../harness/sidecar/process.ts";
import { operatorArgs } from "../../../harness/operator/command.ts";

const run = promisify(execFile);

describe("the sidecar process", () => {
  it("--server files: not ready before the first ring; then every rendering (0600), --exec, metrics; SIGTERM exits 0 and leaves the files", async () => {
    const source = await mkdtemp(join(tmpdir(), "tko-src-"));
    const out = await mkdtemp(join(tmpdir(), "tko-out-"));
    const marker = join(out, "..", `${randomBytes(4).toString("hex")}.ran`);
    const sidecar = await startSidecar("files", [
      `--directory=${source}`,
      "--server=files",
      `--out=${out}`,
      "--formats=nginx,haproxy,envoy,go",
      "--cipher=AES128",
      `--exec=echo "$TICKET_KEYS_CHANGED" >> ${marker}`,
    ]);
    try {
      assert.equal(await sidecar.ready(), false, "no ring yet");
      const spec = { rotationIntervalMs: 3_600_000, retiredKeys: 1, suspend: false };
      const { ring } = nextRing({ previous: undefined, spec, now: Date.now(), random: randomBytes });
      await writeRing(source, ring);
      await sidecar.waitForLog((l) => l.msg === "ticket keys applied");
      assert.equal(await sidecar.ready(), true);
      const files = (await readdir(out)).sort();
      assert.deepEqual(files, [
        "envoy-sds.yaml",
        "go.keys",
        "haproxy.keys",
        "nginx-0.key",
        "nginx-1.key",
        "nginx-2.key",
      ]);
      for (const file of files) assert.equal((await stat(join(out, file))).mode & 0o777, 0o600, file);
      const active = activeKey(ring, Date.now())!;
      assert.ok((await readFile(join(out, "nginx-0.key"))).equals(renderKey(active, "nginx", 48)));
      for (let i = 0; !(await readFile(marker, "utf8").catch(() => "")).includes("nginx-0.key"); i++) {
        assert.ok(i < 100, "--exec ran");
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(await sidecar.metric("ticketkeys_sidecar_updates_total", { server: "files" }), 1);
      assert.equal(await sidecar.metric("ticketkeys_sidecar_active_key_info", { key_id: keyId(active) }), 1);
      assert.equal(await sidecar.metric("ticketkeys_sidecar_in_sync"), 1);
      const lastRing = await sidecar.metric("ticketkeys_sidecar_last_ring_timestamp_seconds");
      assert.ok(Math.abs(lastRing - Date.now() / 1000) < 60, "the new ring's arrival time");
      assert.match(await sidecar.metrics(), /process_resident_memory_bytes/);
      assert.deepEqual(findLeaks(sidecar.lines, keyNeedles(ring.keys)), []);
    } finally {
      await sidecar.stop();
    }
    assert.equal(sidecar.child.exitCode, 0);
    assert.equal((await readdir(out)).length, 6, "the files stay for the server");
  });

  it("bad flags: exit 2 with the reason; a source that cannot work: exit 1 with one clear log line", async () => {
    const node = process.execPath;
    await assert.rejects(
      run(node, operatorArgs(["sidecar", "--server=nginx"])),
      (e: { code: number; stderr: string }) => {
        assert.equal(e.code, 2);
        assert.match(e.stderr, /exactly one source/);
        return true;
      },
    );
    const out = await mkdtemp(join(tmpdir(), "tko-out-"));
    await assert.rejects(
      run(
        node,
        operatorArgs([
          "sidecar",
          "--directory=/nonexistent/keys",
          "--server=envoy",
          `--out=${out}`,
          "--metrics-address=127.0.0.1:0",
          "--health-address=127.0.0.1:0",
        ]),
      ),
      (e: { code: number; stdout: string }) => {
        assert.equal(e.code, 1);
        const line = e.stdout.split("\n").find((l) => l.includes("cannot read the ticket key ring"));
        assert.ok(line, e.stdout);
        assert.match(line, /\/nonexistent\/keys/);
        return true;
      },
    );
    const help = await run(node, operatorArgs(["sidecar", "--help"]));
    assert.match(help.stdout, /Usage: ticket-key-operator sidecar/);
  });
});
