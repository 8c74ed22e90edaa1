/**
 * The HAProxy runtime API client and the HAProxy adapter against a real HAProxy 2.6: the
 * semantics of `set ssl tls-key` (the oldest key overwritten, the penultimate one encrypts,
 * checked with a real TLS handshake), the adapter's pushes along a schedule, and its failures.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { activeKey, keyId } from "../../../src/core/index.ts";
import { SidecarFailure } from "../../../src/sidecar/failure.ts";
import { afterPushes } from "../../../src/sidecar/haproxy-plan.ts";
import { HaproxyRuntime } from "../../../src/sidecar/haproxy-runtime.ts";
import { haproxyKeyBytes, haproxyWindow } from "../../../src/sidecar/renderings.ts";
import { HaproxyServer } from "../../../src/sidecar/servers/haproxy.ts";
import { makeServerCert, type ServerCert } from "../../../harness/tls/certs.ts";
import {
  randomHaproxyKeys,
  startHaproxy,
  startReplyBackend,
  type HaproxyInstance,
  type ReplyBackend,
} from "../../../harness/servers/haproxy.ts";
import { issuedKeyNow } from "../../../harness/clients/openssl-client.ts";
import { ringHistory } from "../consumer/support.ts";

const name = (bytes: Buffer | undefined): string => bytes?.subarray(0, 16).toString("hex") ?? "";

let cert: ServerCert;
let backend: ReplyBackend;
const started: HaproxyInstance[] = [];

async function haproxy(size = 80): Promise<{ instance: HaproxyInstance; runtime: HaproxyRuntime }> {
  const dir = await mkdtemp(join(tmpdir(), "tko-haproxy-unit-"));
  const keysFile = join(dir, "haproxy.keys");
  await randomHaproxyKeys(keysFile, size);
  const instance = await startHaproxy({ id: "u", cert, keysFile, backendPort: backend.port });
  started.push(instance);
  return { instance, runtime: new HaproxyRuntime(instance.socketPath) };
}

before(async () => {
  cert = await makeServerCert("p256");
  backend = await startReplyBackend("u");
});
after(async () => {
  await Promise.all(started.map((h) => h.stop()));
  await backend.close();
});

describe("HAProxy's runtime API (real HAProxy 2.6)", () => {
  it("show tls-keys lists the file; show tls-keys <ref> its last 3 keys, oldest first; the penultimate encrypts", async () => {
    const { instance, runtime } = await haproxy();
    assert.deepEqual(await runtime.listRefs(), [{ id: 0, file: instance.keysFile }]);
    const file = (await readFile(instance.keysFile, "utf8"))
      .trim()
      .split("\n")
      .map((l) => Buffer.from(l, "base64"));
    const held = await runtime.showKeys(instance.keysFile);
    assert.deepEqual(held, file);
    assert.deepEqual(await runtime.showKeys("#0"), held, "by #id too");
    assert.equal(await issuedKeyNow({ port: instance.port, caPath: cert.caPath }), name(held[1]));
  });

  it("set ssl tls-key overwrites the oldest key and the key that was last now encrypts", async () => {
    const { instance, runtime } = await haproxy();
    const before = await runtime.showKeys(instance.keysFile);
    const fresh = [Buffer.alloc(80, 1), Buffer.alloc(80, 2)];
    fresh[0]!.write("first-new-key!!!", 0);
    fresh[1]!.write("second-new-key!!", 0);
    const one = await runtime.pushKeys(instance.keysFile, [fresh[0]!]);
    assert.deepEqual(one, afterPushes(before, [fresh[0]!]), "[b, c, new]");
    assert.equal(await issuedKeyNow({ port: instance.port, caPath: cert.caPath }), name(before[2]));
    const two = await runtime.pushKeys(instance.keysFile, [fresh[1]!]);
    assert.deepEqual(two, [before[2], fresh[0], fresh[1]]);
    for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
      assert.equal(await issuedKeyNow({ port: instance.port, caPath: cert.caPath, version }), name(fresh[0]));
    }
  });

  it("the adapter brings HAProxy to the window of the ring: 3 pushes from unknown keys, then 0, 1 at an activation, 2 for the next ring", async () => {
    const { instance, runtime } = await haproxy();
    const server = new HaproxyServer({ cipher: "AES256", runtime, ref: undefined });
    const rings = ringHistory(1);
    const [first, second] = rings as [(typeof rings)[0], (typeof rings)[0]];
    const pending = first.keys.find((k) => k.activeFrom > first.keys[1]!.activeFrom)!;
    const steps = [
      { ring: first, now: first.keys[1]!.activeFrom + 1000, pushes: "pushed 3 keys" },
      { ring: first, now: first.keys[1]!.activeFrom + 2000, pushes: "in sync" },
      { ring: first, now: pending.activeFrom, pushes: "pushed 1 key" },
      { ring: second, now: pending.activeFrom + 1500, pushes: "pushed 2 keys" },
    ];
    for (const step of steps) {
      const rendering = server.render(step.ring, step.now);
      const result = await server.notify(rendering);
      assert.equal(result.action, step.pushes);
      const window = haproxyKeyBytes(haproxyWindow(step.ring, step.now, 3), "AES256");
      assert.deepEqual(await runtime.showKeys(instance.keysFile), window);
      assert.equal(
        keyId({ name: window[1]!.subarray(0, 16) }),
        keyId(activeKey(step.ring, step.now)!),
        "the active key encrypts",
      );
      assert.equal(await issuedKeyNow({ port: instance.port, caPath: cert.caPath }), name(window[1]));
    }
  });

  it("failures: no socket, an unknown reference, keys of another size", async () => {
    const { instance, runtime } = await haproxy(48);
    const [ring] = ringHistory(0);
    const now = ring!.keys[1]!.activeFrom + 1000;
    const missing = new HaproxyServer({
      cipher: "AES128",
      runtime: new HaproxyRuntime(join(instance.dir, "nope.sock")),
      ref: undefined,
    });
    await assert.rejects(missing.notify(missing.render(ring!, now)), (e: SidecarFailure) => {
      assert.equal(e.kind, "haproxy-socket");
      assert.match(e.message, /ENOENT/);
      return true;
    });
    const wrongRef = new HaproxyServer({ cipher: "AES128", runtime, ref: "/no/such/file" });
    await assert.rejects(wrongRef.notify(wrongRef.render(ring!, now)), (e: SidecarFailure) => {
      assert.equal(e.kind, "haproxy-command");
      assert.match(e.message, /unable to locate/);
      return true;
    });
    const wrongSize = new HaproxyServer({ cipher: "AES256", runtime, ref: undefined });
    await assert.rejects(wrongSize.notify(wrongSize.render(ring!, now)), (e: SidecarFailure) => {
      assert.equal(e.kind, "haproxy-verify");
      assert.match(e.message, /48 bytes.*80/);
      return true;
    });
    const right = new HaproxyServer({ cipher: "AES128", runtime, ref: undefined });
    assert.equal((await right.notify(right.render(ring!, now))).action, "pushed 3 keys");
    assert.equal(
      await issuedKeyNow({ port: instance.port, caPath: cert.caPath }),
      name(haproxyKeyBytes(haproxyWindow(ring!, now, 3), "AES128")[1]),
    );
  });
});
