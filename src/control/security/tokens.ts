/**
 * API tokens. The database keeps only SHA-256 hashes; the admin and join tokens are also
 * written to the data dir (mode 0600) so ctl and agents on the same host find them, as k3s
 * does. Rotating a kind revokes every earlier token of it.
 */
import type { Database } from "bun:sqlite";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { writeSecret } from "./pki.js";

export type TokenKind = "admin" | "readonly" | "join";

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function tokenFile(dataDir: string, kind: "admin" | "join"): string {
  return join(dataDir, `${kind}-token`);
}

export class Tokens {
  /** hash → kind, for active tokens. */
  private readonly active = new Map<string, TokenKind>();

  constructor(
    private readonly db: Database,
    private readonly dataDir: string,
  ) {
    for (const r of db.query<{ hash: string; role: TokenKind }, []>("SELECT hash, role FROM tokens WHERE revoked_at IS NULL").all()) this.active.set(r.hash, r.role);
    const have = new Set(this.active.values());
    if (!have.has("admin")) this.rotate("admin", Date.now());
    if (!have.has("join")) this.rotate("join", Date.now());
  }

  /** The kind of an active token, or undefined. */
  kindOf(token: string): TokenKind | undefined {
    return this.active.get(hashToken(token));
  }

  /** A new token of a kind; for admin and join, every earlier one is revoked and the file rewritten. */
  rotate(kind: TokenKind, now: number): string {
    const token = `tessera-${kind}-${randomBytes(24).toString("base64url")}`;
    const hash = hashToken(token);
    this.db.transaction(() => {
      if (kind !== "readonly") {
        this.db.query("UPDATE tokens SET revoked_at = ? WHERE role = ? AND revoked_at IS NULL").run(now, kind);
        for (const [h, k] of this.active) if (k === kind) this.active.delete(h);
      }
      this.db.query("INSERT INTO tokens (role, hash, created_at) VALUES (?, ?, ?)").run(kind, hash, now);
    })();
    this.active.set(hash, kind);
    if (kind !== "readonly") writeSecret(tokenFile(this.dataDir, kind), `${token}\n`);
    return token;
  }
}
