import { hkdfSync } from "node:crypto";
import type { Format } from "./formats.ts";
import type { Key } from "./ring.ts";

/** Prefix of the HKDF info string; the format name follows ("ticketkeys.dev/v1 nginx"). */
export const derivationInfoPrefix = "ticketkeys.dev/v1 ";

const nameBytes = 16;
const maxHkdfBytes = 255 * 32;

/**
 * The bytes of one rendered key (docs/design.md#key-derivation): the 16-byte name followed by
 * HKDF-SHA256(ikm = seed, salt = name, info = "ticketkeys.dev/v1 " + format, length = size - 16).
 * For "go" the whole `size` (32) bytes are HKDF output: Go derives its own key name from them.
 * The one derivation used by the controller, the library and the sidecar.
 */
export function renderKey(key: Pick<Key, "name" | "seed">, format: Format, size: number): Buffer {
  if (key.name.length !== nameBytes) throw new RangeError(`key name must be ${nameBytes} bytes`);
  const prefix = format === "go" ? 0 : nameBytes;
  if (!Number.isInteger(size) || size <= prefix || size - prefix > maxHkdfBytes) {
    throw new RangeError(`invalid rendering size ${size} for format ${format}`);
  }
  const derived = hkdfSync("sha256", key.seed, key.name, derivationInfoPrefix + format, size - prefix);
  return format === "go" ? Buffer.from(derived) : Buffer.concat([key.name, Buffer.from(derived)]);
}
