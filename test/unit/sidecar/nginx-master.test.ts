/**
 * Finding the nginx master (pid file or process name) and confirming its reloads: against a real
 * nginx, and against a made-up /proc for what a real one cannot show (several masters, a kernel
 * without /proc/<pid>/task/<tid>/children).
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { pino } from "pino";

import { SidecarFailure } from "../../../src/sidecar/failure.ts";
import {
  childrenOf,
  isNginxMaster,
  pidFileLocator,
  processNameLocator,
} from "../../../src/sidecar/nginx-master.ts";
import { NginxServer } from "../../../src/sidecar/servers/nginx.ts";
import { makeServerCert, type ServerCert } from "../../../harness/tls/certs.ts";
import { randomNginxKeys, startNginx, type NginxInstance } from "../../../harness/servers/nginx.ts";

const failsWith = (kind: string, pattern: RegExp) => (e: unknown) => {
  assert.ok(e instanceof SidecarFailure, String(e));
  assert.equal(e.kind, kind);
  assert.match(e.message, pattern);
  return true;
};

describe("the nginx master (real nginx)", () => {
  let cert: ServerCert;
  let nginx: NginxInstance;
  let keyDir: string;
  before(async () => {
    cert = await makeServerCert("p256");
    keyDir = await mkdtemp(join(tmpdir(), "tko-nginx-keys-"));
    await randomNginxKeys(keyDir, 3);
    nginx = await startNginx({ id: "u", cert, keyDir, slots: 3 });
  });
  after(async () => {
    await nginx.stop();
  });

  it("is found from its pid file and recognised in /proc; its workers are its children", async () => {
    assert.equal(await pidFileLocator(nginx.pidFile).locate(), nginx.pid);
    assert.equal(await isNginxMaster(nginx.pid), true);
    assert.equal(await isNginxMaster(nginx.pid, "nginx"), true);
    assert.equal(await isNginxMaster(nginx.pid, "openresty"), false);
    assert.equal(await isNginxMaster(process.pid), false);
    const workers = await childrenOf(nginx.pid);
    assert.equal(workers.size, 1);
    for (const worker of workers)
      assert.equal(await isNginxMaster(worker), false, "a worker is not a master");
  });

  it("a stale pid file is refused without signalling anything", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tko-pid-"));
    const file = join(dir, "nginx.pid");
    await writeFile(file, `${process.pid}\n`);
    await assert.rejects(
      pidFileLocator(file).locate(),
      failsWith("nginx-pid", /not an nginx master; not signalling/),
    );
    await writeFile(file, "4194304\n");
    await assert.rejects(pidFileLocator(file).locate(), failsWith("nginx-pid", /no process 4194304/));
    await writeFile(file, "");
    await assert.rejects(pidFileLocator(file).locate(), failsWith("nginx-pid", /does not hold a pid/));
    await assert.rejects(pidFileLocator(join(dir, "none.pid")).locate(), failsWith("nginx-pid", /ENOENT/));
  });

  it("a reload is confirmed by a new generation of workers; a failed reload (a bad key file) is not", async () => {
    const server = new NginxServer({
      cipher: "AES256",
      slots: 3,
      existingSlots: 3,
      locator: pidFileLocator(nginx.pidFile),
      reloadTimeoutMs: 1500,
      log: pino({ level: "silent" }),
    });
    const rendering = { files: new Map<string, Buffer>() };
    const before = await childrenOf(nginx.pid);
    const started = Date.now();
    assert.deepEqual(await server.notify(rendering, { confirmed: false }), {
      action: "reloaded",
      changed: true,
    });
    console.log(`# nginx reload confirmed in ${Date.now() - started} ms`);
    const afterReload = await childrenOf(nginx.pid);
    assert.ok(
      [...afterReload].some((pid) => !before.has(pid)),
      "new workers",
    );
    assert.deepEqual(
      await server.notify(rendering, { confirmed: true }),
      { action: "none", changed: false },
      "nothing to do",
    );
    // nginx refuses a 10-byte key: it keeps its old configuration and workers.
    await writeFile(join(keyDir, "nginx-2.key"), Buffer.alloc(10));
    await assert.rejects(
      server.notify(rendering, { confirmed: false }),
      failsWith("nginx-reload", /no new workers/),
    );
    assert.ok(
      nginx.log.some((line) => line.includes("must be 48 or 80 bytes")),
      "nginx said why",
    );
    await randomNginxKeys(keyDir, 3);
    assert.deepEqual(await server.notify(rendering, { confirmed: false }), {
      action: "reloaded",
      changed: true,
    });
  });
});

describe("the nginx master (a made-up /proc)", () => {
  async function fakeProc(processes: { pid: number; ppid: number; title: string }[]): Promise<string> {
    const root = await mkdtemp(join(tmpdir(), "tko-proc-"));
    for (const p of processes) {
      await mkdir(join(root, String(p.pid)));
      await writeFile(join(root, String(p.pid), "cmdline"), `${p.title.replaceAll(" ", "\0")}\0`);
      await writeFile(join(root, String(p.pid), "stat"), `${p.pid} (a (weird) name) S ${p.ppid} 1 1 0 -1\n`);
    }
    await mkdir(join(root, "self"));
    return root;
  }

  it("by process name: the one master; none or several is an error", async () => {
    const root = await fakeProc([
      { pid: 1, ppid: 0, title: "/pause" },
      { pid: 7, ppid: 1, title: "nginx: master process nginx -g daemon off;" },
      { pid: 8, ppid: 7, title: "nginx: worker process" },
      { pid: 9, ppid: 7, title: "nginx: worker process is shutting down" },
      { pid: 12, ppid: 1, title: "node /app/dist/cli.js sidecar" },
    ]);
    assert.equal(await processNameLocator("nginx", root).locate(), 7);
    assert.deepEqual([...(await childrenOf(7, root))].sort(), [8, 9], "children from /proc/<n>/stat");
    await assert.rejects(
      processNameLocator("openresty", root).locate(),
      failsWith("nginx-pid", /shareProcessNamespace/),
    );
    const two = await fakeProc([
      { pid: 7, ppid: 1, title: "nginx: master process nginx" },
      { pid: 17, ppid: 1, title: "nginx: master process nginx -c other.conf" },
    ]);
    await assert.rejects(
      processNameLocator("nginx", two).locate(),
      failsWith("nginx-pid", /several nginx masters \(7, 17\)/),
    );
  });
});
