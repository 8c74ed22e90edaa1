/**
 * The life of a command's process, the same for the controller and the sidecar: its /healthz,
 * /readyz and /metrics servers, SIGTERM and SIGINT, one graceful shutdown (stop the work, close
 * the servers) and the exit code.
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import type { Registry } from "prom-client";

import { serveProbes, type Probes } from "../observability/http.ts";
import type { Logger } from "../observability/log.ts";

/** The part of `process` a lifecycle uses (a test passes its own). */
export interface ProcessHooks {
  once(signal: "SIGTERM" | "SIGINT", listener: () => void): unknown;
  exit(code: number): void;
}

export interface LifecycleOptions {
  log: Logger;
  /** Logged once, when the shutdown starts. */
  shutdownMessage: string;
  /** Stops the process's work; a failure is ignored (the process exits anyway). */
  stop: () => Promise<void>;
  process?: ProcessHooks;
}

export interface Endpoints {
  healthAddress: string;
  metricsAddress: string;
  registry: Registry;
  /** What /healthz and /readyz answer on the health address. */
  probes: Probes;
  /** What they answer on the metrics address, when it is another; default `probes`. */
  metricsProbes?: Probes;
}

/** A listening address as logs show it: host:port (or a pipe's path). */
export function describeAddress(address: AddressInfo | string | null): string {
  if (address === null) return "not listening";
  return typeof address === "string" ? address : `${address.address}:${address.port}`;
}

export class ProcessLifecycle {
  private readonly options: LifecycleOptions;
  private readonly process: ProcessHooks;
  private readonly servers: Server[] = [];
  private shuttingDown = false;

  /** Installs the handlers: SIGTERM and SIGINT shut down with exit code 0. */
  constructor(options: LifecycleOptions) {
    this.options = options;
    this.process = options.process ?? process;
    this.process.once("SIGTERM", () => void this.shutdown(0));
    this.process.once("SIGINT", () => void this.shutdown(0));
  }

  /**
   * Serves /healthz, /readyz and /metrics on the health address, and again on the metrics
   * address when it is another. Returns the addresses listened on, health first. Throws when an
   * address cannot be listened on.
   */
  async listen(endpoints: Endpoints): Promise<string[]> {
    const { healthAddress, metricsAddress, registry, probes } = endpoints;
    const started: Server[] = [];
    const serve = async (address: string, answers: Probes): Promise<void> => {
      const server = await serveProbes(address, registry, answers);
      this.servers.push(server);
      started.push(server);
    };
    await serve(healthAddress, probes);
    if (metricsAddress !== healthAddress) await serve(metricsAddress, endpoints.metricsProbes ?? probes);
    return started.map((server) => describeAddress(server.address()));
  }

  /**
   * The first call stops the work, closes the servers, then exits with `code`. A call while
   * that shutdown runs exits at once with its own code.
   */
  async shutdown(code: number): Promise<void> {
    if (!this.shuttingDown) {
      this.shuttingDown = true;
      this.options.log.info(this.options.shutdownMessage);
      await this.options.stop().catch(() => undefined);
      await Promise.all(this.servers.map((server) => new Promise((resolve) => server.close(resolve))));
    }
    this.process.exit(code);
  }
}
