/**
 * The first bytes of a connection, gathered until inspectClientHello() can answer for good. The
 * parser is asked again only once at least the `needed` bytes it asked for have arrived, and the
 * chunks are joined only then: a ClientHello that trickles in byte by byte costs a few parses and
 * copies, not one of each per byte (work linear in the bytes, not quadratic).
 */
import { inspectClientHello, MAX_CLIENT_HELLO_BYTES, type ClientHelloResult } from "./client-hello.ts";

/** A final answer of inspectClientHello. */
export type ClientHelloAnswer = Exclude<ClientHelloResult, { kind: "need-more" }>;

export const tooLong: ClientHelloAnswer = Object.freeze({
  kind: "malformed",
  reason: `no ClientHello within ${MAX_CLIENT_HELLO_BYTES} bytes`,
});

export class ClientHelloBuffer {
  readonly #inspect: (bytes: Uint8Array) => ClientHelloResult;
  #chunks: Buffer[];
  #length: number;
  /** the length at which the parser can next say more */
  #waitFor: number;

  /** `first`: the first chunk read, for which the parser answered need-more with `needed`. */
  constructor(
    first: Buffer,
    needed: number,
    inspect: (bytes: Uint8Array) => ClientHelloResult = inspectClientHello,
  ) {
    this.#inspect = inspect;
    this.#chunks = [first];
    this.#length = first.length;
    this.#waitFor = first.length + Math.max(1, needed);
  }

  /** Adds the next chunk read; the final answer once there is one, else undefined. */
  push(chunk: Buffer): ClientHelloAnswer | undefined {
    this.#chunks.push(chunk);
    this.#length += chunk.length;
    if (this.#length < this.#waitFor && this.#length < MAX_CLIENT_HELLO_BYTES) return undefined;
    const bytes = this.bytes();
    const answer = this.#inspect(bytes);
    if (answer.kind !== "need-more") return answer;
    // The parser answers for good at MAX_CLIENT_HELLO_BYTES; this bound only guards it.
    if (bytes.length >= MAX_CLIENT_HELLO_BYTES) return tooLong;
    this.#waitFor = bytes.length + Math.max(1, answer.needed);
    return undefined;
  }

  /** Every byte pushed so far, as one buffer (to hand back to the socket). */
  bytes(): Buffer {
    const [only, ...more] = this.#chunks;
    if (only !== undefined && more.length === 0) return only;
    const joined = Buffer.concat(this.#chunks, this.#length);
    this.#chunks = [joined];
    return joined;
  }
}
