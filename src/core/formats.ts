/** The renderings the controller can write into the Secret (DESIGN.md, "The Secret"). */
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
