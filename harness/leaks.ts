/**
 * The key-leak scan of the tests: the strings key material could take in text (the needles),
 * and the texts that hold one. A leak is reported by its place only (which text, which
 * character), so a failing scan never prints the material it found.
 */
import { ciphers, formats, renderingSize, renderKey, type Key } from "../src/core/index.ts";

/** Every secret byte string of a key: its name, its seed, and each rendering a server can be given. */
export function keyBytes(keys: Iterable<Key>): Buffer[] {
  const out: Buffer[] = [];
  for (const key of keys) {
    out.push(key.name, key.seed);
    for (const format of formats) {
      for (const size of new Set(ciphers.map((cipher) => renderingSize(format, cipher))))
        out.push(renderKey(key, format, size));
    }
  }
  return out;
}

export interface NeedleOptions {
  /**
   * Every `window`-character piece of each encoding, for short texts (an error message, the
   * logs of a unit test); by default the whole hex and the first 20 characters of the base64
   * forms (long logs against many keys).
   */
  window?: number;
}

/**
 * Every way a secret byte string could be written out: hex, base64 and base64url (unpadded) of
 * the whole, and of its pieces after the 16-byte key name (the HMAC and AES parts, 16-byte
 * aligned) when it is longer than 32 bytes; pieces shorter than 16 bytes are left out.
 */
export function leakNeedles(secrets: Iterable<Buffer>, options: NeedleOptions = {}): string[] {
  const needles = new Set<string>();
  const add = (text: string, whole: boolean): void => {
    const { window } = options;
    if (window === undefined) needles.add(whole ? text : text.slice(0, 20));
    else for (let i = 0; i + window <= text.length; i++) needles.add(text.slice(i, i + window));
  };
  for (const s of secrets) {
    const pieces = s.length > 32 ? [s.subarray(16), s.subarray(16, 32), s.subarray(32, 48)] : [];
    for (const p of [s, ...pieces]) {
      if (p.length < 16) continue;
      add(p.toString("hex"), true);
      add(p.toString("base64").replace(/=+$/, ""), false);
      add(p.toString("base64url"), false);
    }
  }
  return [...needles];
}

/** The needles of keys (leakNeedles of keyBytes). */
export function keyNeedles(keys: Iterable<Key>, options: NeedleOptions = {}): string[] {
  return leakNeedles(keyBytes(keys), options);
}

/**
 * Where texts hold a needle: "text <i>: key material at character <n>", one per text that
 * holds any (none expected). The texts themselves are never repeated.
 */
export function findLeaks(texts: readonly string[], needles: readonly string[]): string[] {
  const found: string[] = [];
  texts.forEach((text, i) => {
    let at = -1;
    for (const needle of needles) {
      const index = text.indexOf(needle);
      if (index >= 0 && (at < 0 || index < at)) at = index;
    }
    if (at >= 0) found.push(`text ${i}: key material at character ${at}`);
  });
  return found;
}
