/**
 * The Envoy SDS file the sidecar writes (envoy-sds.yaml), checked against Envoy's documented
 * structure, since Envoy itself cannot run here:
 * - a path-based SDS file is a DiscoveryResponse in YAML: `resources`, each a typed resource
 *   with "@type" (config.core.v3.PathConfigSource, "Local filesystem path configuration source");
 * - the resource is an extensions.transport_sockets.tls.v3.Secret: `name` plus exactly one of
 *   tls_certificate, session_ticket_keys, validation_context, generic_secret;
 * - session_ticket_keys is a TlsSessionTicketKeys: `keys`, a list of DataSource, here
 *   `inline_bytes` (base64 in YAML/JSON); "Each key must contain exactly 80 bytes"; "The first
 *   key in the array contains the key to encrypt all new sessions created by this context. All
 *   keys are candidates for decrypting received tickets."
 * and the example Envoy config of examples/envoy refers to it the way Envoy expects
 * (session_ticket_keys_sds_secret_config, path_config_source, watched_directory = the file's
 * directory), and the file is replaced by a rename in that directory (what watched_directory
 * reacts to).
 */
import assert from "node:assert/strict";
import { watch } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";

import { parse, parseAllDocuments } from "yaml";

import { envoyFileName, liveKeys, orderedForServing, renderKey, type Ring } from "../../../src/core/index.ts";
import { writeFiles } from "../../../src/sidecar/atomic-write.ts";
import { EnvoyServer } from "../../../src/sidecar/servers/envoy.ts";
import { ringHistory, t0, withTimeout } from "../consumer/support.ts";

const secretType = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";
const secretOneof = ["tls_certificate", "session_ticket_keys", "validation_context", "generic_secret"];

/** Checks the documented structure; returns the key bytes in file order. */
function checkSdsFile(text: string): Buffer[] {
  const doc: unknown = parse(text);
  assert.ok(typeof doc === "object" && doc !== null && !Array.isArray(doc));
  assert.deepEqual(Object.keys(doc), ["resources"], "a DiscoveryResponse with resources only");
  const { resources } = doc as { resources: unknown };
  assert.ok(Array.isArray(resources) && resources.length === 1, "one resource");
  const secret = resources[0] as Record<string, unknown>;
  assert.equal(secret["@type"], secretType);
  assert.equal(secret["name"], "ticket-keys");
  assert.deepEqual(
    Object.keys(secret).filter((k) => secretOneof.includes(k)),
    ["session_ticket_keys"],
    "exactly one member of the Secret's oneof",
  );
  assert.deepEqual(Object.keys(secret).sort(), ["@type", "name", "session_ticket_keys"].sort());
  const tickets = secret["session_ticket_keys"] as { keys?: unknown };
  assert.deepEqual(Object.keys(tickets), ["keys"]);
  assert.ok(Array.isArray(tickets.keys) && tickets.keys.length >= 1);
  return tickets.keys.map((source: unknown) => {
    assert.ok(typeof source === "object" && source !== null);
    assert.deepEqual(Object.keys(source), ["inline_bytes"], "a DataSource with inline_bytes");
    const b64 = (source as { inline_bytes: unknown }).inline_bytes;
    assert.ok(typeof b64 === "string" && /^[A-Za-z0-9+/]+={0,2}$/.test(b64), "base64");
    const bytes = Buffer.from(b64, "base64");
    assert.equal(bytes.length, 80, "each key exactly 80 bytes");
    return bytes;
  });
}

describe("envoy-sds.yaml", () => {
  const rings = ringHistory(3);

  it("has Envoy's documented structure: one tls.v3.Secret 'ticket-keys' of 80-byte inline keys, active first", () => {
    const server = new EnvoyServer();
    for (const [i, ring] of rings.entries()) {
      for (const now of [t0 + i * 3_600_000 + 2000, (ring.keys.at(-1)?.activeFrom ?? 0) + 1]) {
        const bytes = server.render(ring, now).files.get(envoyFileName);
        assert.ok(bytes !== undefined);
        const keys = checkSdsFile(bytes.toString("utf8"));
        const expected = orderedForServing(ring, now).map((k) => renderKey(k, "envoy", 80));
        assert.deepEqual(keys, expected, "active first, then pending, then retired newest first");
        assert.equal(keys.length, liveKeys(ring, now).length);
      }
    }
  });

  it("rejects what Envoy would reject (the checker itself)", () => {
    const good = new EnvoyServer()
      .render(rings[0]!, t0 + 1000)
      .files.get(envoyFileName)!
      .toString();
    assert.throws(() => checkSdsFile(good.replace("ticket-keys", "other")));
    assert.throws(() => checkSdsFile(good.replace("tls.v3.Secret", "tls.v2.Secret")));
    const short = Buffer.alloc(48).toString("base64");
    assert.throws(() => checkSdsFile(good.replace(/inline_bytes: "[^"]+"/, `inline_bytes: "${short}"`)));
  });

  it("is replaced by a rename in its directory (what Envoy's watched_directory reloads on), never seen half-written", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tko-envoy-"));
    const server = new EnvoyServer();
    const renders = rings.map(
      (ring: Ring) => server.render(ring, (ring.keys.at(-2)?.activeFrom ?? 0) + 1).files,
    );
    await writeFiles(dir, renders[0]!, 0o600);
    const events: string[] = [];
    let fenceSeen: () => void = () => undefined;
    const fence = new Promise<void>((resolve) => (fenceSeen = resolve));
    const watcher = watch(dir, (event, file) => {
      events.push(`${event}:${String(file)}`);
      if (file === "fence") fenceSeen();
    });
    try {
      for (const files of renders.slice(1)) {
        await writeFiles(dir, files, 0o600);
        checkSdsFile(await readFile(join(dir, envoyFileName), "utf8"));
      }
      // inotify reports a directory's events in order: once the fence's is in, so are the updates'.
      await writeFile(join(dir, "fence"), "");
      await withTimeout(fence);
    } finally {
      watcher.close();
    }
    // inotify IN_MOVED_TO on the final name, once per update
    assert.equal(
      events.filter((e) => e === `rename:${envoyFileName}`).length,
      renders.length - 1,
      events.join(" "),
    );
    assert.ok(
      !events.some((e) => e === `change:${envoyFileName}`),
      "the file itself is never written in place",
    );
  });

  it("examples/envoy reads it as Envoy expects: SDS from the file, watching its directory", async () => {
    const text = await readFile("examples/envoy/envoy.yaml", "utf8");
    const docs = parseAllDocuments(text).map((d) => d.toJS() as unknown);
    const found: {
      name?: unknown;
      sds_config?: { path_config_source?: { path?: string; watched_directory?: { path?: string } } };
    }[] = [];
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(visit);
      else if (typeof node === "object" && node !== null) {
        for (const [k, v] of Object.entries(node)) {
          if (k === "session_ticket_keys_sds_secret_config") found.push(v as (typeof found)[number]);
          visit(v);
        }
      }
    };
    visit(docs);
    assert.equal(found.length, 1, "one session_ticket_keys_sds_secret_config");
    const config = found[0]!;
    assert.equal(config.name, "ticket-keys");
    const path = config.sds_config?.path_config_source?.path ?? "";
    assert.ok(path.endsWith(`/${envoyFileName}`), path);
    assert.equal(config.sds_config?.path_config_source?.watched_directory?.path, dirname(path));
  });
});
