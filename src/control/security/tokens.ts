/**
 * API tokens, the shell's half. The secrets are made here and written to the data dir (mode
 * 0600) for the admin and join kinds, so ctl and agents on the same host find them, as k3s
 * does; the control plane's state and database keep only SHA-256 hashes, and every token is
 * issued through the writer (IssueToken → TokenIssued), so history shows who issued what.
 * Issuing an admin or join token revokes every earlier one of its kind.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TokenKind } from "../../core/cluster-state.js";
import { describeRejection } from "../../core/rejections.js";
import { writeSecret } from "../../shell/write-secret.js";
import type { CommandPort } from "../writer.js";

export type { TokenKind };

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** How a token shows in history: its hash's first 12 hex digits, never the token. */
export function fingerprint(token: string): string {
  return `sha256:${hashToken(token).slice(0, 12)}`;
}

export function tokenFile(dataDir: string, kind: "admin" | "join"): string {
  return join(dataDir, `${kind}-token`);
}

export class Tokens {
  constructor(
    private readonly writer: CommandPort,
    private readonly dataDir: string,
  ) {}

  /**
   * Makes sure an admin and a join token are active. A state without one (a first start, or a
   * cluster started over with `--reinitialize`) takes the data dir's token when there is one,
   * so that ctl and the agents' join token keep working; only a data dir without one gets a
   * new token.
   */
  async ensure(): Promise<void> {
    const have = new Set(this.writer.view.tokens.values());
    for (const kind of ["admin", "join"] as const) {
      if (have.has(kind)) continue;
      const file = tokenFile(this.dataDir, kind);
      const token = existsSync(file) ? readFileSync(file, "utf8").trim() : "";
      if (token.startsWith(`tessera-${kind}-`)) await this.record(kind, token, `control plane start (the token in ${file})`);
      else await this.issue(kind, "control plane start");
    }
  }

  /** The kind of an active token, or undefined. */
  kindOf(token: string): TokenKind | undefined {
    return this.kindOfHash(hashToken(token));
  }

  /** The kind of the active token with this hash (what a web session keeps), or undefined. */
  kindOfHash(hash: string): TokenKind | undefined {
    return this.writer.view.tokens.get(hash);
  }

  /** A new token of a kind, issued through the writer; for admin and join the file is rewritten once it is recorded. */
  async issue(kind: TokenKind, by: string): Promise<string> {
    const token = `tessera-${kind}-${randomBytes(24).toString("base64url")}`;
    await this.record(kind, token, by);
    if (kind !== "readonly") writeSecret(tokenFile(this.dataDir, kind), `${token}\n`);
    return token;
  }

  private async record(kind: TokenKind, token: string, by: string): Promise<void> {
    const d = await this.writer.submit({ type: "IssueToken", kind, hash: hashToken(token), by });
    if (d.rejection) throw new Error(`token not issued: ${describeRejection(d.rejection)}`);
  }
}
