/** The /healthz, /readyz and /metrics endpoints shared by the controller and the sidecar. */
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

export interface Probes {
  healthy: () => boolean;
  ready: () => boolean;
}

export function parseAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(":");
  const host = i > 0 ? address.slice(0, i).replace(/^\[|\]$/g, "") : "0.0.0.0";
  const port = Number(address.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`invalid address ${address}: expected host:port`);
  return { host, port };
}

export async function serveProbes(address: string, registry: Registry, probes: Probes): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { "content-type": registry.contentType });
          res.end(text);
        })
        .catch(() => {
          res.writeHead(500);
          res.end("metrics unavailable\n");
        });
      return;
    }
    const probe =
      path === "/healthz" || path === "/livez"
        ? probes.healthy
        : path === "/readyz"
          ? probes.ready
          : undefined;
    if (probe === undefined) {
      res.writeHead(404);
      res.end("not found\n");
      return;
    }
    const ok = probe();
    res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" });
    res.end(ok ? "ok\n" : "not ready\n");
  });
  const { host, port } = parseAddress(address);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
