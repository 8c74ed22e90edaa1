/**
 * A TCP proxy on loopback in front of the API server that can be stalled: while stalled it
 * accepts connections and bytes but forwards nothing in either direction (an API server or etcd
 * that hangs, a partition that drops nothing), and forwards what it held once resumed. Tests
 * point a controller's kubeconfig at it.
 */
import net from "node:net";

export interface StallProxy {
  /** host:port to connect to */
  readonly address: string;
  stall(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startStallProxy(target: { host: string; port: number }): Promise<StallProxy> {
  let stalled = false;
  const sockets = new Set<net.Socket>();
  const flushers = new Set<() => void>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target);
    sockets.add(client).add(upstream);
    const held: { to: net.Socket; data: Buffer }[] = [];
    const forward = (to: net.Socket) => (data: Buffer) => {
      if (stalled) held.push({ to, data });
      else to.write(data);
    };
    client.on("data", forward(upstream));
    upstream.on("data", forward(client));
    const flush = (): void => {
      for (const { to, data } of held.splice(0)) to.write(data);
    };
    flushers.add(flush);
    const end = (): void => {
      flushers.delete(flush);
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on("error", end);
      s.on("close", end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    stall: () => {
      stalled = true;
    },
    resume: () => {
      stalled = false;
      for (const flush of flushers) flush();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
