/**
 * API tokens. The database keeps only SHA-256 hashes; the admin and join tokens are also
 * written to the data dir (mode 0600) so ctl and agents on the same host find them, as k3s
 * does. Rotating a kind revokes every earlier token of it.
 */
import type { Database } from "bun:sqlite";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeSecret } from "../../shell/write-secret.js";

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
    for (const kind of ["admin", "join"] as const) if (!have.has(kind)) this.adoptOrRotate(kind, Date.now());
  }

  /**
   * A database without an active token of a kind (a first start, or a cluster started over
   * with `--reinitialize`) takes the data dir's token when there is one, so that ctl and the
   * agents' join token keep working; only a data dir without one gets a new token.
   */
  private adoptOrRotate(kind: "admin" | "join", now: number): void {
    const file = tokenFile(this.dataDir, kind);
    const token = existsSync(file) ? readFileSync(file, "utf8").trim() : "";
    if (!token.startsWith(`tessera-${kind}-`)) {
      this.rotate(kind, now);
      return;
    }
    const hash = hashToken(token);
    this.db.query("INSERT INTO tokens (role, hash, created_at) VALUES (?, ?, ?)").run(kind, hash, now);
    this.active.set(hash, kind);
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
