import { renderKey } from "./derive.ts";
import {
  atsFileName,
  envoyFileName,
  goFileName,
  haproxyFileName,
  nginxSlotName,
  nodeFileName,
  renderingSize,
  ringDataKey,
  type Cipher,
  type Format,
} from "./formats.ts";
import { serializeRing, type Key, type Ring } from "./ring.ts";
import { orderedForHaproxy, orderedForServing } from "./serving-order.ts";

export { ciphers, formats, renderingSize, type Cipher, type Format } from "./formats.ts";
export { orderedForHaproxy, orderedForServing } from "./serving-order.ts";

/** Which renderings a policy writes. */
export interface RenderingOptions {
  formats: readonly Format[];
  cipher: Cipher;
}

/** One base64 line per key, in the order given (HAProxy's `tls-ticket-keys` file, the Go rendering). */
export function base64Lines(keys: readonly Buffer[]): Buffer {
  return Buffer.from(keys.map((bytes) => `${bytes.toString("base64")}\n`).join(""));
}

/** nginx `ssl_session_ticket_key` files: slot 0 = active (nginx encrypts with the first), 1 = pending, then retired. */
export function renderNginx(ring: Ring, cipher: Cipher, now: number): Buffer[] {
  return orderedForServing(ring, now).map((key) => renderKey(key, "nginx", renderingSize("nginx", cipher)));
}

/** HAProxy `tls-ticket-keys`: base64 lines, oldest first, the active key penultimate. */
export function renderHaproxy(ring: Ring, cipher: Cipher, now: number): Buffer {
  const size = renderingSize("haproxy", cipher);
  return base64Lines(orderedForHaproxy(ring, now).map((key) => renderKey(key, "haproxy", size)));
}

/** An Envoy SDS file: one `ticket-keys` Secret of 80-byte session ticket keys, active first. */
export function renderEnvoySds(ring: Ring, now: number): Buffer {
  const keys = orderedForServing(ring, now).map((key) =>
    renderKey(key, "envoy", renderingSize("envoy", "AES256")),
  );
  const lines = [
    "resources:",
    '- "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
    "  name: ticket-keys",
    "  session_ticket_keys:",
    "    keys:",
    ...keys.map((bytes) => `    - inline_bytes: "${bytes.toString("base64")}"`),
  ];
  return Buffer.from(`${lines.join("\n")}\n`);
}

/** Apache Traffic Server `ticket_key.filename`: raw 48-byte keys concatenated, active first. */
export function renderAts(ring: Ring, now: number): Buffer {
  return Buffer.concat(
    orderedForServing(ring, now).map((key) => renderKey(key, "ats", renderingSize("ats", "AES128"))),
  );
}

/** Go `tls.Config.SetSessionTicketKeys`: base64 lines of 32-byte keys, active first. */
export function renderGo(ring: Ring, now: number): Buffer {
  return base64Lines(
    orderedForServing(ring, now).map((key) => renderKey(key, "go", renderingSize("go", "AES128"))),
  );
}

/** Node `ticketKeys` of one key: its "node" rendering (16-byte name, 16-byte HMAC key, 16-byte AES key). */
export function renderNodeKey(key: Pick<Key, "name" | "seed">): Buffer {
  return renderKey(key, "node", renderingSize("node", "AES128"));
}

/** Node `ticketKeys`: the 48 bytes of the active key. */
export function renderNode(ring: Ring, now: number): Buffer {
  const active = orderedForServing(ring, now)[0];
  if (active === undefined) throw new Error("the ring has no keys");
  return renderNodeKey(active);
}

/** The Secret data keys of one format (e.g. nginx-0.key .. nginx-<n-1>.key). */
export function renderFormat(
  ring: Ring,
  format: Format,
  cipher: Cipher,
  now: number,
): Record<string, Buffer> {
  switch (format) {
    case "nginx":
      return Object.fromEntries(
        renderNginx(ring, cipher, now).map((bytes, slot) => [nginxSlotName(slot), bytes]),
      );
    case "haproxy":
      return { [haproxyFileName]: renderHaproxy(ring, cipher, now) };
    case "envoy":
      return { [envoyFileName]: renderEnvoySds(ring, now) };
    case "ats":
      return { [atsFileName]: renderAts(ring, now) };
    case "go":
      return { [goFileName]: renderGo(ring, now) };
    case "node":
      return { [nodeFileName]: renderNode(ring, now) };
  }
}

/** The whole Secret data of a policy: ring.json plus every chosen rendering. */
export function renderSecretData(ring: Ring, options: RenderingOptions, now: number): Record<string, Buffer> {
  const data: Record<string, Buffer> = { [ringDataKey]: Buffer.from(serializeRing(ring)) };
  for (const format of new Set(options.formats))
    Object.assign(data, renderFormat(ring, format, options.cipher, now));
  return data;
}
