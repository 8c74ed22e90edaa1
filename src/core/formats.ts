/** The renderings the controller can write into the Secret (docs/design.md#data-keys). */
export const formats = ["nginx", "haproxy", "envoy", "ats", "go", "node"] as const;
export type Format = (typeof formats)[number];

/** Cipher of the nginx and HAProxy renderings: 48-byte (AES128) or 80-byte (AES256) keys. */
export const ciphers = ["AES128", "AES256"] as const;
export type Cipher = (typeof ciphers)[number];

/** Size in bytes of one rendered key for a format (the cipher only matters for nginx and HAProxy). */
export function renderingSize(format: Format, cipher: Cipher): number {
  switch (format) {
    case "nginx":
    case "haproxy":
      return cipher === "AES128" ? 48 : 80;
    case "envoy":
      return 80;
    case "ats":
    case "node":
      return 48;
    case "go":
      return 32;
  }
}

/** The Secret data key (and the mounted file) holding the ring. */
export const ringDataKey = "ring.json";

/** nginx-<slot>.key: the file of nginx key slot `slot` (nginx encrypts with slot 0). */
export function nginxSlotName(slot: number): string {
  return `nginx-${slot}.key`;
}

/** The file of each single-file rendering (nginx writes one file per slot: nginxSlotName). */
export const haproxyFileName = "haproxy.keys";
export const envoyFileName = "envoy-sds.yaml";
export const atsFileName = "ats.keys";
export const goFileName = "go.keys";
export const nodeFileName = "node.key";
