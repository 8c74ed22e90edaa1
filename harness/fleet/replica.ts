/**
 * One replica of a Node TLS service, as a process of its own: answers every connection with its
 * id and closes. Its ticket keys come from the library (single-key or router mode, from a
 * directory or the Kubernetes API) or, as the baseline, from nowhere (per-replica random keys).
 *
 *   node harness/fleet/replica.ts --id r1 --mode router|single|per-replica --cert C --key K
 *        [--directory DIR | --kubernetes NS/NAME [--kubeconfig PATH]]
 *
 * Prints one JSON line {"ready":true,"port":N} when listening, {"error":...} on failure.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer, type Server, type TLSSocket } from "node:tls";
import { parseArgs } from "node:util";
import { createRouter, shareTicketKeys, type SourceChoice } from "../../src/consumer/index.ts";
import { createLogger } from "../../src/observability/log.ts";

const { values } = parseArgs({
  options: {
    id: { type: "string", default: "r" },
    mode: { type: "string", default: "router" },
    cert: { type: "string" },
    key: { type: "string" },
    directory: { type: "string" },
    kubernetes: { type: "string" },
    kubeconfig: { type: "string" },
    port: { type: "string", default: "0" },
  },
});

const reply = Buffer.from(values.id);
// Every replica must present the same session id context, or OpenSSL refuses to resume a
// session another replica issued. Node's default is a hash of process.argv, which differs here
// (--id): set it explicitly, as a fleet whose replicas run different command lines must.
const tlsOptions = {
  cert: readFileSync(values.cert ?? ""),
  key: readFileSync(values.key ?? ""),
  sessionIdContext: "ticket-key-operator-rig",
};
const log = createLogger({ name: `replica-${values.id}`, level: process.env["LOG_LEVEL"] ?? "warn" });

function tlsServer(ticketKeys: Buffer): Server {
  const server = createServer({ ...tlsOptions, ticketKeys }, (socket: TLSSocket) => {
    socket.end(reply);
  });
  server.on("tlsClientError", () => undefined);
  return server;
}

function source(): SourceChoice {
  if (values.directory !== undefined) return { directory: values.directory };
  const [namespace = "", name = ""] = (values.kubernetes ?? "").split("/");
  return { kubernetes: { namespace, name, ...(values.kubeconfig ? { kubeConfig: values.kubeconfig } : {}) } };
}

function ready(server: { address(): AddressInfo | string | null }): void {
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ ready: true, port: typeof address === "object" && address ? address.port : 0 })}\n`,
  );
}

try {
  const port = Number(values.port);
  if (values.mode === "router") {
    const router = createRouter({ ...source(), createServer: tlsServer, log });
    await router.ready;
    router.listen(port, "127.0.0.1", () => ready(router));
  } else {
    const server = tlsServer(randomBytes(48));
    if (values.mode === "single") await shareTicketKeys(server, { ...source(), log });
    else if (values.mode !== "per-replica") throw new Error(`unknown --mode ${values.mode}`);
    server.listen(port, "127.0.0.1", () => ready(server));
  }
} catch (err) {
  process.stdout.write(`${JSON.stringify({ error: err instanceof Error ? err.message : String(err) })}\n`);
  process.exit(1);
}
process.on("SIGTERM", () => process.exit(0));
