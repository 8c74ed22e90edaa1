/**
 * The OpenSSL client rig reads a ticket's key name from the session s_client saved: checked
 * against `openssl sess_id -text` and against the key the server encrypted with, and its
 * "Reused"/"New" detection against a Node TLS server with one known ticket key.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createServer, type Server } from "node:tls";

import { makeServerCert, type ServerCert } from "../../../harness/tls/certs.ts";
import { summarize } from "../../../harness/clients/client.ts";
import {
  opensslConnect,
  opensslTicketKeyName,
  runOpensslClient,
  ticketKeyName,
} from "../../../harness/clients/openssl-client.ts";

let cert: ServerCert;
let server: Server;
let port: number;
const ticketKeys = randomBytes(48);

before(async () => {
  cert = await makeServerCert("p256");
  server = createServer({ cert: cert.cert, key: cert.key, ticketKeys }, (socket) => socket.end("hello"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => {
  server.close();
});

describe("the OpenSSL client rig", () => {
  for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
    it(`reads the ticket's key name like openssl sess_id, and sees resumption (${version})`, async () => {
      const dir = await mkdtemp(join(tmpdir(), "tko-sess-"));
      const first = await opensslConnect({
        port,
        caPath: cert.caPath,
        version,
        sessionOut: join(dir, "a.pem"),
      });
      assert.deepEqual(
        [first.resumed, first.protocol, first.reply, first.saved],
        [false, version, "hello", true],
      );
      const name = await ticketKeyName(join(dir, "a.pem"));
      assert.equal(name, ticketKeys.subarray(0, 16).toString("hex"), "the server's key name");
      assert.equal(await opensslTicketKeyName(join(dir, "a.pem")), name, "as openssl sess_id -text shows it");
      const second = await opensslConnect({
        port,
        caPath: cert.caPath,
        version,
        sessionIn: join(dir, "a.pem"),
        sessionOut: join(dir, "b.pem"),
      });
      assert.equal(second.resumed, true);
      const end = Date.now() + 600;
      const loop = summarize(
        await runOpensslClient({ port, caPath: cert.caPath, version, until: () => Date.now() > end }),
      );
      assert.equal(loop.errors, 0);
      assert.ok(loop.reconnections > 0 && loop.rate === 1, JSON.stringify(loop));
    });
  }
});
