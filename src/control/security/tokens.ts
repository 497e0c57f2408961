/**
 * API tokens, the shell's half. The secrets are made here and written to the data dir (mode
 * 0600) for the admin and join kinds, so ctl and agents on the same host find them, as k3s
 * does; the control plane's state and database keep only SHA-256 hashes, and every token is
 * issued through the writer (IssueToken → TokenIssued), so history shows who issued what.
 * Rotating the admin or join token revokes every earlier one of its kind; created tokens
 * (read-only ones, bootstrap join tokens) stand beside the others, with an expiry and, for
 * join tokens, a number of uses, until they run out or are revoked.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TokenKind } from "../../core/model/cluster-state.js";
import { tokenId, workingToken } from "../../core/access/node-identity.js";
import { describeRejection, type Rejection } from "../../core/model/rejections.js";
import { writeSecret } from "../../shell/write-secret.js";
import { rejectionError } from "../grpc/rejection-codes.js";
import type { CommandPort } from "../writer/writer.js";

export type { TokenKind };

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** How a token shows in history: its hash's first 12 hex digits, never the token. */
export function fingerprint(token: string): string {
  return tokenId(hashToken(token));
}

/** A created token's limits: a lifetime and, for a join token, a number of enrollments. */
export interface TokenLimits {
  ttlMs?: number;
  uses?: number;
}

/** A token as `token list` shows it: never its secret. */
export interface TokenListing {
  id: string;
  kind: TokenKind;
  createdAt: number;
  expiresAt: number | null;
  usesLeft: number | null;
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
    // The data dir's tokens are the ones without an expiry (created ones have their own).
    const have = new Set([...this.writer.view.tokens.values()].filter((t) => t.expiresAt === null).map((t) => t.kind));
    for (const kind of ["admin", "join"] as const) {
      if (have.has(kind)) continue;
      const file = tokenFile(this.dataDir, kind);
      const token = existsSync(file) ? readFileSync(file, "utf8").trim() : "";
      if (token.startsWith(`tessera-${kind}-`)) await this.record(kind, token, `control plane start (the token in ${file})`);
      else await this.rotate(kind, "control plane start");
    }
  }

  /** The kind of a token that works now (active, not expired, not used up), or undefined. */
  kindOf(token: string): TokenKind | undefined {
    return this.kindOfHash(hashToken(token));
  }

  /** The kind of the token with this hash (what a web session keeps) if it works now, or undefined. */
  kindOfHash(hash: string): TokenKind | undefined {
    return workingToken(this.writer.view, hash, Date.now())?.kind;
  }

  /** A new admin or join token replacing the earlier ones of its kind; the data dir's file is rewritten once it is recorded. */
  async rotate(kind: "admin" | "join", by: string): Promise<string> {
    const token = newToken(kind);
    await this.record(kind, token, by);
    writeSecret(tokenFile(this.dataDir, kind), `${token}\n`);
    return token;
  }

  /** A new read-only or join token beside the others, with its limits; the secret is only returned. */
  async create(kind: "readonly" | "join", by: string, limits: TokenLimits = {}): Promise<string> {
    const token = newToken(kind);
    const expiresAt = limits.ttlMs === undefined ? undefined : Date.now() + limits.ttlMs;
    await this.record(kind, token, by, { expiresAt, uses: limits.uses, keepOthers: kind === "join" });
    return token;
  }

  /** Revokes a token by its id (`token list`); the refusal when it cannot be. */
  async revoke(id: string, by: string): Promise<Rejection | undefined> {
    return (await this.writer.submit({ type: "RevokeToken", id, by })).rejection;
  }

  /** The active tokens, oldest first. */
  list(): TokenListing[] {
    return [...this.writer.view.tokens]
      .map(([hash, t]) => ({ id: tokenId(hash), kind: t.kind, createdAt: t.createdAt, expiresAt: t.expiresAt, usesLeft: t.usesLeft }))
      .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  private async record(kind: TokenKind, token: string, by: string, limits: { expiresAt?: number; uses?: number; keepOthers?: boolean } = {}): Promise<void> {
    const d = await this.writer.submit({ type: "IssueToken", kind, hash: hashToken(token), by, ...definedOnly(limits) });
    // With its wire code, so an RPC that asked answers it (unary passes a code and details on).
    if (d.rejection) throw Object.assign(new Error(`token not issued: ${describeRejection(d.rejection)}`), rejectionError(d.rejection));
  }
}

function newToken(kind: TokenKind): string {
  return `tessera-${kind}-${randomBytes(24).toString("base64url")}`;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== false)) as Partial<T>;
}
