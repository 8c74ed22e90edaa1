/**
 * Reads the first bytes of an accepted connection until inspectClientHello() gives a final
 * answer (ticket, no-ticket, not-tls, malformed), bounded by MAX_CLIENT_HELLO_BYTES and a
 * timeout. The accept path allocates nothing but the bytes read when the first chunk holds the
 * whole ClientHello (as it nearly always does): the listeners are shared functions, the
 * per-connection state properties on the socket. A ClientHello in several chunks is gathered by
 * a ClientHelloBuffer (linear work however it trickles in).
 */
import type net from "node:net";

import { inspectClientHello } from "../core/client-hello.ts";
import { ClientHelloBuffer, type ClientHelloAnswer } from "../core/client-hello-buffer.ts";

export type { ClientHelloAnswer } from "../core/client-hello-buffer.ts";

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
  /** the bytes so far, once the first chunk was not enough */
  [kBytes]?: ClientHelloBuffer | undefined;
  /** When the ClientHello must be complete (epoch ms): the timeout is not reset by each byte. */
  [kDeadline]?: number;
}

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
    const gathered = this[kBytes];
    let answer: ClientHelloAnswer | undefined;
    if (gathered === undefined) {
      // The first chunk: nearly always the whole ClientHello, answered with no copy.
      const first = inspectClientHello(chunk);
      if (first.kind === "need-more") this[kBytes] = new ClientHelloBuffer(chunk, first.needed);
      else answer = first;
    } else {
      answer = gathered.push(chunk);
    }
    if (answer !== undefined) {
      reader.answered(this, gathered?.bytes() ?? chunk, answer);
      return;
    }
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
