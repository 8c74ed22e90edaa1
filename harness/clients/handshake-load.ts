/**
 * Closed-loop handshake load against one server: `concurrency` connections in flight at all
 * times, each new one as soon as the last closed. Either every connection is a full handshake
 * (no session offered) or every reconnection offers the newest session its worker holds
 * (harness/clients/client.ts), so against a single server every reconnection resumes.
 */
import { connect } from "node:tls";
import { connectionOptions, finishOnClose, runClient, type Handshake, type TlsVersion } from "./client.ts";

export interface LoadOptions {
  port: number;
  host?: string;
  ca: Buffer;
  version: TlsVersion;
  /** true: resume (offer the last session); false: full handshakes only */
  resume: boolean;
  concurrency: number;
  until: () => boolean;
  onHandshake?: (h: Handshake) => void;
}

function fullHandshake(options: LoadOptions): Promise<Handshake> {
  return new Promise((resolve) => {
    let replica = "";
    let done = false;
    const socket = connect(connectionOptions(options));
    const finish = (error?: string): void => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve({
        at: Date.now(),
        offered: false,
        resumed: false,
        replica,
        ...(error === undefined ? {} : { error }),
      });
    };
    finishOnClose(socket, finish);
    socket.on("data", (d: Buffer) => (replica += d.toString()));
  });
}

async function fullWorker(options: LoadOptions): Promise<Handshake[]> {
  const results: Handshake[] = [];
  while (!options.until()) {
    const h = await fullHandshake(options);
    results.push(h);
    options.onHandshake?.(h);
  }
  return results;
}

/** Runs the load until `until()`; resolves with every handshake made. */
export async function runLoad(options: LoadOptions): Promise<Handshake[]> {
  const workers = Array.from({ length: options.concurrency }, () =>
    options.resume
      ? runClient({
          port: options.port,
          ...(options.host === undefined ? {} : { host: options.host }),
          ca: options.ca,
          version: options.version,
          until: options.until,
          ...(options.onHandshake === undefined ? {} : { onHandshake: options.onHandshake }),
        })
      : fullWorker(options),
  );
  return (await Promise.all(workers)).flat();
}
