/**
 * The renderings the sidecar writes, with a CONSTANT number of keys, so that a server's config
 * (which lists key files, or whose runtime holds a fixed number of keys) never has to change.
 * The bytes and orders are the core's (docs/design.md#byte-formats); only the count is fixed here:
 *
 * - nginx: exactly `slots` files nginx-0.key .. nginx-<slots-1>.key, slot 0 the active key. The
 *   schedule keeps R + 2 live keys, but for a moment after each rotation (between the instant the
 *   pending key starts and the controller's next ring) only R + 1 are live, and a new ring may
 *   have fewer: the remaining slots repeat the LAST key of the core order (the oldest
 *   decrypt-only key; the pending key when nothing is retired; the active key when it is alone).
 *   A repeated key only decrypts (nginx encrypts with slot 0 alone). When more keys are live than
 *   slots, the oldest retired keys are left out.
 * - HAProxy: a window of exactly `size` keys (HAProxy's TLS_TICKETS_NO, 3 by default), oldest
 *   first, the active key penultimate (HAProxy encrypts with it): the last `size` keys of the
 *   core order, padded IN FRONT by repeating its last key. In steady state that is
 *   [newest retired, active, pending]; just after a rotation [R, A, R]; so a rotation needs one
 *   `set ssl tls-key` and the next ring two (see haproxy-plan.ts).
 */
import {
  base64Lines,
  envoyFileName,
  haproxyFileName,
  nginxSlotName,
  orderedForHaproxy,
  renderEnvoySds,
  renderFormat,
  renderingSize,
  renderKey,
  renderNginx,
  type Cipher,
  type Format,
  type Key,
  type Ring,
} from "../core/index.ts";

/** Repeats the last element until `count` (or cuts after `count`); [] stays []. */
function fitBack<T>(items: readonly T[], count: number): T[] {
  const last = items.at(-1);
  if (last === undefined) return [];
  return items.length >= count
    ? items.slice(0, count)
    : [...items, ...Array.from({ length: count - items.length }, () => last)];
}

/** exactly `slots` nginx key files, slot 0 the active key (see the file comment). */
export function nginxSlotFiles(ring: Ring, cipher: Cipher, now: number, slots: number): Map<string, Buffer> {
  return new Map(
    fitBack(renderNginx(ring, cipher, now), slots).map((bytes, slot) => [nginxSlotName(slot), bytes]),
  );
}

/** The `size` keys HAProxy must hold, oldest first, the active key penultimate (see the file comment). */
export function haproxyWindow(ring: Ring, now: number, size: number): Key[] {
  const ordered = orderedForHaproxy(ring, now);
  const last = ordered.at(-1);
  if (last === undefined) return [];
  if (ordered.length >= size) return ordered.slice(ordered.length - size);
  return [...Array.from({ length: size - ordered.length }, () => last), ...ordered];
}

/** The bytes of each key of a HAProxy window (48 or 80 bytes: the `haproxy` rendering). */
export function haproxyKeyBytes(keys: readonly Key[], cipher: Cipher): Buffer[] {
  const size = renderingSize("haproxy", cipher);
  return keys.map((key) => renderKey(key, "haproxy", size));
}

/** A `tls-ticket-keys` file: one base64 line per key, in the order given (the core's encoding). */
export const haproxyKeysFile: (keys: readonly Buffer[]) => Buffer = base64Lines;

/** The Envoy SDS file (the core rendering: every live key, active first). */
export function envoyFiles(ring: Ring, now: number): Map<string, Buffer> {
  return new Map([[envoyFileName, renderEnvoySds(ring, now)]]);
}

export interface FileRenderingOptions {
  formats: readonly Format[];
  cipher: Cipher;
  /** nginx slot count */
  slots: number;
  /** HAProxy window size */
  haproxyKeys: number;
}

/**
 * Every rendering asked for (`--server files`): nginx and HAProxy with their constant counts as
 * above, the others exactly as the controller writes them into the Secret.
 */
export function formatFiles(ring: Ring, now: number, options: FileRenderingOptions): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const format of new Set(options.formats)) {
    if (format === "nginx") {
      for (const [name, bytes] of nginxSlotFiles(ring, options.cipher, now, options.slots))
        files.set(name, bytes);
    } else if (format === "haproxy") {
      const window = haproxyWindow(ring, now, options.haproxyKeys);
      files.set(haproxyFileName, haproxyKeysFile(haproxyKeyBytes(window, options.cipher)));
    } else {
      for (const [name, bytes] of Object.entries(renderFormat(ring, format, options.cipher, now)))
        files.set(name, bytes);
    }
  }
  return files;
}
