/**
 * A client of HAProxy's runtime API (the `stats socket ... level admin`), for the ticket key
 * commands only: `show tls-keys`, `show tls-keys <ref>`, `set ssl tls-key <ref> <base64>`.
 * Non-interactive mode: one connection per command line, `;` separates commands, HAProxy
 * answers each with its output and an empty line, then closes.
 *
 * `show tls-keys <ref>` prints key bytes: they are parsed in memory and never logged; errors
 * quote HAProxy's answer only through sanitize().
 */
import { createConnection, type Socket } from "node:net";

import { errorCode, sanitize, SidecarFailure } from "./failure.ts";

/** A unix socket path ("/run/haproxy/admin.sock", "unix@/path") or "host:port" ("ipv4@host:port"). */
export type RuntimeAddress = { path: string } | { host: string; port: number };

export function parseRuntimeAddress(address: string): RuntimeAddress {
  const value = address.replace(/^(unix|ipv4|ipv6)@/, "");
  if (address.startsWith("unix@") || value.includes("/")) return { path: value };
  const i = value.lastIndexOf(":");
  const port = Number(value.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`invalid HAProxy runtime API address ${address}: expected a socket path or host:port`);
  }
  return { host: value.slice(0, i).replace(/^\[|\]$/g, ""), port };
}

/** One `tls-ticket-keys` file HAProxy loaded: its numeric id and its file name (the reference). */
export interface TlsKeysRef {
  id: number;
  file: string;
}

const updated = "TLS ticket key updated!";

export class HaproxyRuntime {
  readonly address: RuntimeAddress;
  readonly description: string;
  readonly #timeoutMs: number;

  constructor(address: string, options: { timeoutMs?: number } = {}) {
    this.address = parseRuntimeAddress(address);
    this.description =
      "path" in this.address ? `socket ${this.address.path}` : `${this.address.host}:${this.address.port}`;
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  /** Sends one command line and returns HAProxy's whole answer. Throws SidecarFailure("haproxy-socket"). */
  command(line: string): Promise<string> {
    if (line.includes("\n")) throw new Error("a runtime API command line cannot contain a newline");
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let settled = false;
      const socket: Socket =
        "path" in this.address
          ? createConnection({ path: this.address.path })
          : createConnection({ host: this.address.host, port: this.address.port });
      const fail = (message: string): void => {
        if (settled) return;
        settled = true;
        socket.destroy();
        reject(new SidecarFailure("haproxy-socket", `HAProxy runtime API ${this.description}: ${message}`));
      };
      socket.setTimeout(this.#timeoutMs, () => {
        fail(`no answer within ${this.#timeoutMs} ms`);
      });
      // Not end(): HAProxy answers, then closes the connection itself.
      socket.on("connect", () => socket.write(`${line}\n`));
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      socket.on("error", (error) => {
        const code = errorCode(error);
        const hint =
          code === "ENOENT"
            ? " (no such socket: is HAProxy running, with `stats socket <path> level admin`, on a shared volume?)"
            : code === "ECONNREFUSED"
              ? " (nothing listening: is HAProxy running?)"
              : code === "EACCES"
                ? " (permission denied: run the sidecar as HAProxy's user or set the socket's mode/group)"
                : "";
        fail(`cannot connect: ${code ?? error.message}${hint}`);
      });
      socket.on("close", () => {
        if (settled) return;
        settled = true;
        resolve(Buffer.concat(chunks).toString("utf8"));
      });
    });
  }

  /** `show tls-keys`: every tls-ticket-keys reference. */
  async listRefs(): Promise<TlsKeysRef[]> {
    const answer = await this.command("show tls-keys");
    checkPermission(answer);
    const refs: TlsKeysRef[] = [];
    for (const line of answer.split("\n")) {
      const match = /^(\d+) \((.*)\)$/.exec(line.trim());
      if (match?.[1] !== undefined && match[2] !== undefined)
        refs.push({ id: Number(match[1]), file: match[2] });
    }
    return refs;
  }

  /** `show tls-keys <ref>`: the keys HAProxy holds for one reference, oldest first. */
  async showKeys(ref: string): Promise<Buffer[]> {
    return parseKeyDump(await this.command(`show tls-keys ${checkRef(ref)}`), "show tls-keys");
  }

  /**
   * Pushes `keys` in order (`set ssl tls-key`) then reads the keys back, in ONE command line:
   * the intermediate states last as little as possible. Returns what HAProxy holds afterwards.
   */
  async pushKeys(ref: string, keys: readonly Buffer[]): Promise<Buffer[]> {
    const checked = checkRef(ref);
    const commands = [
      ...keys.map((bytes) => `set ssl tls-key ${checked} ${bytes.toString("base64")}`),
      `show tls-keys ${checked}`,
    ];
    const answer = await this.command(commands.join(";"));
    checkPermission(answer);
    const confirmations = answer.split("\n").filter((line) => line.trim() === updated).length;
    if (confirmations !== keys.length) {
      const refusal = answer
        .split("\n")
        .map((line) => line.trim())
        .find((line) => line !== "" && line !== updated && !line.startsWith("#") && !/^\d+\.\d+ /.test(line));
      throw new SidecarFailure(
        "haproxy-command",
        `HAProxy accepted ${confirmations} of ${keys.length} keys (set ssl tls-key ${checked}): ${sanitize(refusal ?? "no answer")}`,
      );
    }
    return parseKeyDump(answer, "set ssl tls-key");
  }
}

/** A reference is a file name or #<id>: one word. */
function checkRef(ref: string): string {
  if (ref === "" || /[\s;]/.test(ref))
    throw new SidecarFailure("haproxy-command", `invalid tls-keys reference "${ref}"`);
  return ref;
}

function checkPermission(answer: string): void {
  if (/permission denied/i.test(answer)) {
    throw new SidecarFailure(
      "haproxy-command",
      "HAProxy refused the command: the stats socket needs `level admin` for tls-keys commands",
    );
  }
}

/** The `<id>.<n> <base64>` lines of a key dump, by n. Anything else but comments is an error. */
function parseKeyDump(answer: string, command: string): Buffer[] {
  checkPermission(answer);
  const keys: { index: number; bytes: Buffer }[] = [];
  let problem: string | undefined;
  for (const raw of answer.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line === updated) continue;
    const match = /^\d+\.(\d+) ([A-Za-z0-9+/]+={0,2})$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) {
      keys.push({ index: Number(match[1]), bytes: Buffer.from(match[2], "base64") });
    } else {
      problem ??= line;
    }
  }
  if (problem !== undefined || keys.length === 0) {
    throw new SidecarFailure(
      "haproxy-command",
      `${command}: unexpected answer from HAProxy: ${sanitize(problem ?? "no keys listed")}`,
    );
  }
  return keys.sort((a, b) => a.index - b.index).map((key) => key.bytes);
}
