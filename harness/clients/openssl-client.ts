/**
 * An OpenSSL resumption client: `openssl s_client` in a loop, each connection offering the
 * session the last one saved (-sess_in / -sess_out), TLS 1.2 or TLS 1.3. Whether the server
 * resumed is read from s_client's "Reused, " / "New, " line; the key name of a ticket (its first
 * 16 bytes) is read from the saved session: the PEM "SSL SESSION PARAMETERS" is OpenSSL's DER
 * SSL_SESSION, whose [10] field is the ticket (ssl/ssl_asn1.c), the same bytes
 * `openssl sess_id -text` prints after "TLS session ticket:" (opensslTicketKeyName, used to check
 * the parser). Records are the rig's Handshake (harness/clients/client.ts), so summarize() applies.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { spawnBound } from "../spawn.ts";
import type { Handshake, LoopOptions, TlsVersion } from "./client.ts";

const run = promisify(execFile);

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

function readTlv(der: Buffer, offset: number): Tlv {
  const tag = der[offset];
  let length = der[offset + 1];
  if (tag === undefined || length === undefined) throw new Error("truncated DER");
  let start = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + (der[start + i] ?? 0);
    start += bytes;
  }
  if (start + length > der.length) throw new Error("truncated DER");
  return { tag, start, end: start + length };
}

/** The ticket in a DER SSL_SESSION (Node's 'session' buffer, or -sess_out's PEM body), if any. */
export function sessionTicket(der: Buffer): Buffer | undefined {
  const session = readTlv(der, 0);
  if (session.tag !== 0x30) throw new Error("not an SSL_SESSION");
  for (let offset = session.start; offset < session.end;) {
    const field = readTlv(der, offset);
    if (field.tag === 0xaa) {
      const ticket = readTlv(der, field.start);
      return ticket.tag === 0x04 ? der.subarray(ticket.start, ticket.end) : undefined;
    }
    offset = field.end;
  }
  return undefined;
}

export function sessionDer(pem: string): Buffer {
  const body = /-----BEGIN SSL SESSION PARAMETERS-----([\s\S]*?)-----END SSL SESSION PARAMETERS-----/.exec(
    pem,
  );
  if (body?.[1] === undefined) throw new Error("no SSL SESSION PARAMETERS block");
  return Buffer.from(body[1].replace(/\s+/g, ""), "base64");
}

/** The key name (hex) of the ticket in a saved session file. */
export async function ticketKeyName(pemPath: string): Promise<string | undefined> {
  const ticket = sessionTicket(sessionDer(await readFile(pemPath, "utf8")));
  return ticket !== undefined && ticket.length >= 16 ? ticket.subarray(0, 16).toString("hex") : undefined;
}

/** The same, read by `openssl sess_id -text` ("TLS session ticket:" hexdump). */
export async function opensslTicketKeyName(pemPath: string): Promise<string | undefined> {
  const { stdout } = await run("openssl", ["sess_id", "-in", pemPath, "-noout", "-text"]);
  const dump = stdout.split("TLS session ticket:")[1];
  if (dump === undefined) return undefined;
  const bytes = [...dump.matchAll(/^\s*[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -]){1,16})/gm)]
    .flatMap((m) => (m[1] ?? "").trim().split(/[ -]+/))
    .filter((b) => b !== "");
  return bytes.length >= 16 ? bytes.slice(0, 16).join("") : undefined;
}

/**
 * What the server sent, from s_client's output: after the session summary, without the
 * "Post-Handshake New Session Ticket" blocks, "read R BLOCK" and "closed" that s_client
 * interleaves, and without HTTP headers.
 */
function replyOf(stdout: string): string {
  const summary = stdout.search(/^(New|Reused), /m);
  const end = stdout.indexOf("\n---\n", summary);
  if (summary < 0 || end < 0) return "";
  const text = stdout
    .slice(end + 5)
    .split("---\n")
    .filter((segment) => !segment.startsWith("Post-Handshake"))
    .join("")
    .replace(/read R BLOCK\n?/g, "")
    .replace(/closed\n?$/, "");
  return (text.includes("\r\n\r\n") ? text.slice(text.indexOf("\r\n\r\n") + 4) : text).trim();
}

export interface OpensslConnection {
  resumed: boolean;
  protocol: string | undefined;
  /** what the server sent */
  reply: string;
  /** the session file s_client saved, if the server issued a session (a ticket) */
  saved: boolean;
}

/** One `openssl s_client` connection (offering `sessionIn` if given, saving to `sessionOut`). */
export function opensslConnect(options: {
  port: number;
  host?: string;
  caPath: string;
  version: TlsVersion;
  request?: string;
  sessionIn?: string;
  sessionOut: string;
  timeoutMs?: number;
}): Promise<OpensslConnection> {
  const args = [
    "s_client",
    "-connect",
    `${options.host ?? "127.0.0.1"}:${options.port}`,
    "-servername",
    "localhost",
    "-CAfile",
    options.caPath,
    "-verify_return_error",
    options.version === "TLSv1.2" ? "-tls1_2" : "-tls1_3",
    // Wait for the server to close (it sends the tickets, then its reply); a close without
    // close_notify is not this rig's concern.
    "-ign_eof",
    "-ignore_unexpected_eof",
    "-sess_out",
    options.sessionOut,
    ...(options.sessionIn === undefined ? [] : ["-sess_in", options.sessionIn]),
  ];
  return new Promise((resolve, reject) => {
    const child = spawnBound("openssl", args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 5000);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    // "close", not "exit": the output may still be in the pipes at exit.
    child.once("close", (code) => {
      clearTimeout(timer);
      void (async () => {
        const line = /^(New|Reused), (TLSv1\.[23])/m.exec(stdout);
        if (code !== 0 || line === null) {
          reject(
            new Error(
              `s_client exited ${code ?? "by a signal"}: ${stderr.trim().split("\n").at(-1) ?? ""} | ${stdout
                .replace(/-----BEGIN[\s\S]*?-----END [A-Z ]+-----/g, "")
                .replace(/\s+/g, " ")
                .slice(0, 600)}`,
            ),
          );
          return;
        }
        const saved = await readFile(options.sessionOut).then(
          (b) => b.length > 0,
          () => false,
        );
        resolve({ resumed: line[1] === "Reused", protocol: line[2], reply: replyOf(stdout), saved });
      })();
    });
    child.stdin!.on("error", () => undefined);
    child.stdin!.end(options.request ?? "");
  });
}

export interface OpensslClientOptions extends LoopOptions {
  caPath: string;
}

/** One client's loop, resuming the last saved session each time. Resolves with every handshake. */
export async function runOpensslClient(options: OpensslClientOptions): Promise<Handshake[]> {
  const dir = await mkdtemp(join(tmpdir(), "tko-openssl-"));
  const held = join(dir, "held.pem");
  const next = join(dir, "next.pem");
  let heldKey: string | undefined;
  let holding = false;
  const results: Handshake[] = [];
  try {
    while (!options.until()) {
      await rm(next, { force: true });
      const handshake: Handshake = { at: 0, offered: holding, resumed: false, replica: "" };
      if (holding && heldKey !== undefined) handshake.offeredKey = heldKey;
      try {
        const c = await opensslConnect({
          ...options,
          sessionOut: next,
          ...(holding ? { sessionIn: held } : {}),
        });
        handshake.resumed = c.resumed;
        handshake.replica = c.reply;
        if (c.saved) {
          // Keep the newest session: a resumption that issues no ticket keeps the old one usable.
          const key = await ticketKeyName(next);
          if (key !== undefined) handshake.issuedKey = key;
          await rename(next, held);
          heldKey = key;
          holding = true;
        }
      } catch (err) {
        handshake.error = err instanceof Error ? err.message : String(err);
      }
      handshake.at = Date.now();
      results.push(handshake);
      options.onHandshake?.(handshake);
      if (options.pauseMs)
        await new Promise((r) => setTimeout(r, Math.random() * 2 * (options.pauseMs ?? 0)));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return results;
}

/**
 * Fresh full handshakes (no session offered) to each port in turn, about every `everyMs`, each
 * recording the key name of the ticket the server issued: which key each server encrypts with.
 */
export async function runTicketProbes(options: {
  ports: number[];
  caPath: string;
  until: () => boolean;
  request?: string;
  everyMs?: number;
}): Promise<Handshake[]> {
  const dir = await mkdtemp(join(tmpdir(), "tko-probe-"));
  const out = join(dir, "probe.pem");
  const results: Handshake[] = [];
  try {
    for (let round = 0; !options.until(); round++) {
      for (const port of options.ports) {
        const version: TlsVersion = round % 2 === 0 ? "TLSv1.3" : "TLSv1.2";
        await rm(out, { force: true });
        const handshake: Handshake = { at: 0, offered: false, resumed: false, replica: String(port) };
        try {
          const c = await opensslConnect({
            port,
            caPath: options.caPath,
            version,
            sessionOut: out,
            ...(options.request === undefined ? {} : { request: options.request }),
          });
          handshake.replica = c.reply;
          const key = c.saved ? await ticketKeyName(out) : undefined;
          if (key !== undefined) handshake.issuedKey = key;
        } catch (err) {
          handshake.error = err instanceof Error ? err.message : String(err);
        }
        handshake.at = Date.now();
        results.push(handshake);
      }
      await new Promise((r) => setTimeout(r, options.everyMs ?? 500));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return results;
}

/** One fresh handshake to `port`: the key name of the ticket the server issues now. */
export async function issuedKeyNow(options: {
  port: number;
  caPath: string;
  request?: string;
  version?: TlsVersion;
}): Promise<string | undefined> {
  const dir = await mkdtemp(join(tmpdir(), "tko-probe-"));
  const out = join(dir, "probe.pem");
  try {
    const c = await opensslConnect({
      port: options.port,
      caPath: options.caPath,
      version: options.version ?? "TLSv1.3",
      sessionOut: out,
      ...(options.request === undefined ? {} : { request: options.request }),
    });
    return c.saved ? await ticketKeyName(out) : undefined;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
