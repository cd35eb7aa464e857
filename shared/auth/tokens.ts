import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Who an API token belongs to. Only SHA-256 hashes of tokens are ever stored. */
export interface TokenDirectory {
  /** The client's name, or undefined for an unknown token. */
  lookup(token: string): Promise<string | undefined>;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/**
 * `hashes` maps hex SHA-256 hashes to client names. Every entry is compared, in constant
 * time, so the answer's timing says nothing about how close a guess was.
 */
export function tokenDirectory(load: () => Promise<Record<string, string>>): TokenDirectory {
  return {
    async lookup(token) {
      const hashes = await load();
      const candidate = createHash("sha256").update(token, "utf8").digest();
      let found: string | undefined;
      for (const [hash, client] of Object.entries(hashes)) {
        const stored = Buffer.from(hash, "hex");
        if (stored.length === candidate.length && timingSafeEqual(stored, candidate)) found = client;
      }
      return found;
    },
  };
}

/**
 * Reads `Authorization: Bearer <token>`; anything else is no token. The scheme's case does not matter
 * (RFC 9110, 11.1): `bearer` and `BEARER` are what some clients send.
 */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer +([\x21-\x7e]{16,512})$/i.exec(header ?? "")?.[1];
}

/**
 * A new token for a local run: 32 random bytes in hex. Hex, not base64url, so a token never starts with
 * `-` and is never read as an option when pasted after a command-line flag.
 */
export function generateToken(): string {
  return randomBytes(32).toString("hex");
}
