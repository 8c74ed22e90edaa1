/**
 * Reads the first bytes of an accepted connection until inspectClientHello() gives a final
 * answer (ticket, no-ticket, not-tls, malformed), bounded by MAX_CLIENT_HELLO_BYTES and a
 * timeout. The accept path allocates nothing but the bytes read: the listeners are shared
 * functions, the per-connection state two properties on the socket.
 */
import type net from "node:net";

import { inspectClientHello, MAX_CLIENT_HELLO_BYTES, type ClientHelloResult } from "../core/client-hello.ts";

/** A final answer of inspectClientHello. */
export type ClientHelloAnswer = Exclude<ClientHelloResult, { kind: "need-more" }>;

export interface ClientHelloReaderOptions {
  /** How long a client may take to send its whole ClientHello; then the socket is destroyed. */
  timeoutMs: number;
  /**
   * The answer, with every byte read so far (to unshift before handing the socket over). The
   * socket is paused and no listener of the reader is left on it.
   */
  onHello: (socket: net.Socket, bytes: Buffer, answer: ClientHelloAnswer) => void;
  /** The socket was destroyed before a final answer: timed out, or closed by the client. */
  onAbort: (socket: net.Socket, why: "timeout" | "closed") => void;
}

const kReader = Symbol("ticketkeys.clientHelloReader");
const kBytes = Symbol("ticketkeys.clientHelloBytes");
const kDeadline = Symbol("ticketkeys.clientHelloDeadline");

interface ReadingSocket extends net.Socket {
  [kReader]?: ClientHelloReader | undefined;
  [kBytes]?: Buffer | undefined;
  /** When the ClientHello must be complete (epoch ms): the timeout is not reset by each byte. */
  [kDeadline]?: number;
}

const tooLong: ClientHelloAnswer = Object.freeze({
  kind: "malformed",
  reason: `no ClientHello within ${MAX_CLIENT_HELLO_BYTES} bytes`,
});

export class ClientHelloReader {
  readonly #options: ClientHelloReaderOptions;

  constructor(options: ClientHelloReaderOptions) {
    this.#options = options;
  }

  /** Starts reading a freshly accepted socket. */
  read(socket: net.Socket): void {
    const reading = socket as ReadingSocket;
    reading[kReader] = this;
    reading[kBytes] = undefined;
    reading[kDeadline] = Date.now() + this.#options.timeoutMs;
    socket.on("error", ignoreError);
    socket.on("readable", onReadable);
    socket.on("close", onClose);
    socket.on("timeout", onTimeout);
    socket.setTimeout(this.#options.timeoutMs);
  }

  /** @internal */
  answered(socket: ReadingSocket, bytes: Buffer, answer: ClientHelloAnswer): void {
    release(socket);
    this.#options.onHello(socket, bytes, answer);
  }

  /** @internal */
  aborted(socket: ReadingSocket, why: "timeout" | "closed"): void {
    release(socket);
    socket.destroy();
    this.#options.onAbort(socket, why);
  }
}

function release(socket: ReadingSocket): void {
  socket[kReader] = undefined;
  socket[kBytes] = undefined;
  socket.setTimeout(0);
  socket.off("readable", onReadable);
  socket.off("close", onClose);
  socket.off("timeout", onTimeout);
}

function onReadable(this: ReadingSocket): void {
  const reader = this[kReader];
  if (reader === undefined) return;
  let chunk: unknown;
  while ((chunk = this.read()) !== null) {
    if (!Buffer.isBuffer(chunk)) continue; // never with a socket (no encoding is set)
    const previous = this[kBytes];
    const bytes = previous === undefined ? chunk : Buffer.concat([previous, chunk]);
    const answer = inspectClientHello(bytes);
    if (answer.kind !== "need-more") {
      reader.answered(this, bytes, answer);
      return;
    }
    // The parser answers for good at MAX_CLIENT_HELLO_BYTES; this bound only guards it.
    if (bytes.length >= MAX_CLIENT_HELLO_BYTES) {
      reader.answered(this, bytes, tooLong);
      return;
    }
    this[kBytes] = bytes;
    // A client trickling bytes does not extend its time: the idle timer is re-armed with what
    // is left until the deadline.
    const left = (this[kDeadline] ?? 0) - Date.now();
    if (left <= 0) {
      reader.aborted(this, "timeout");
      return;
    }
    this.setTimeout(left);
  }
}

function onClose(this: ReadingSocket): void {
  this[kReader]?.aborted(this, "closed");
}

function onTimeout(this: ReadingSocket): void {
  this[kReader]?.aborted(this, "timeout");
}

/** Connection errors (resets) before and after the handover: the TLS layer reports its own. */
function ignoreError(): void {
  // nothing to do: the socket is destroyed by the stream machinery
}
