/**
 * The reference a library replica is measured against: a plain Node tls.Server holding one
 * ticket key, in a process that loads nothing but Node itself (no library, no logger), so its
 * memory and CPU are what a service pays without ticket-key-operator. It answers like a replica
 * of harness/fleet/replica.ts (writes its id and closes) and uses the same session id context.
 *
 *   node harness/fleet/plain-server.ts --id plain --cert C --key K [--ticket-key HEX48] [--peek]
 *
 * Without --ticket-key the key is random. With --peek a net.Server in front reads each
 * connection's first bytes, puts them back (unshift) and hands the socket to the tls.Server, as
 * the router does, without inspecting or routing anything: the cost of that handover in Node
 * alone. Prints {"ready":true,"port":N} when listening.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { createServer, type TLSSocket } from "node:tls";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    id: { type: "string", default: "plain" },
    cert: { type: "string" },
    key: { type: "string" },
    "ticket-key": { type: "string" },
    port: { type: "string", default: "0" },
    peek: { type: "boolean", default: false },
  },
});

const reply = Buffer.from(values.id);
const ticketKeys =
  values["ticket-key"] === undefined ? randomBytes(48) : Buffer.from(values["ticket-key"], "hex");
if (ticketKeys.length !== 48) throw new Error("--ticket-key must be 48 bytes in hex");

const server = createServer(
  {
    cert: readFileSync(values.cert ?? ""),
    key: readFileSync(values.key ?? ""),
    sessionIdContext: "ticket-key-operator-rig",
    ticketKeys,
  },
  (socket: TLSSocket) => {
    socket.end(reply);
  },
);
server.on("tlsClientError", () => undefined);
const front = values.peek
  ? createNetServer((socket) => {
      socket.on("error", () => socket.destroy());
      socket.once("readable", () => {
        const first = socket.read() as Buffer | null;
        if (first !== null) socket.unshift(first);
        server.emit("connection", socket);
      });
    })
  : server;
front.listen(Number(values.port), "127.0.0.1", () => {
  const address = front.address();
  process.stdout.write(
    `${JSON.stringify({ ready: true, port: typeof address === "object" && address ? address.port : 0 })}\n`,
  );
});
process.on("SIGTERM", () => process.exit(0));
