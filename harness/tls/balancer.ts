/**
 * A round-robin TCP load balancer on loopback: each new connection goes to the next backend,
 * bytes are piped both ways untouched (TLS passes through), as an L4 Service or cloud LB would.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";

export interface Balancer {
  port: number;
  /** connections sent to each backend, by index */
  counts: number[];
  setBackends(ports: number[]): void;
  close(): Promise<void>;
}

export async function startBalancer(backends: number[], host = "127.0.0.1"): Promise<Balancer> {
  let ports = [...backends];
  const counts = ports.map(() => 0);
  let next = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const i = next++ % ports.length;
    counts[i] = (counts[i] ?? 0) + 1;
    const upstream = createConnection({ port: ports[i] ?? 0, host });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once("close", () => sockets.delete(s));
      s.setNoDelay(true);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    port,
    counts,
    setBackends: (p) => {
      ports = [...p];
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
