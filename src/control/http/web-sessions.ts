/**
 * The web page's sessions: a signed-in browser holds a random id in its cookie, never the token
 * it signed in with. The control plane keeps, per id's hash, the hash of that token and when
 * the session ends. A session ends when its time is up, on sign-out, or as soon as its token
 * is no longer active (rotated, revoked): every request asks the token's kind again. Sessions
 * live in memory: a control-plane restart or a failover signs every page out.
 */
import { randomBytes } from "node:crypto";
import type { Role } from "../../core/access/authz.js";
import { hashToken } from "../security/tokens.js";

/** How long a session lasts from sign-in (a working day). */
export const SESSION_TTL_MS = 8 * 3_600_000;
/** Sessions kept at most; past it the one ending soonest is dropped (each sign-in needs an active token). */
const MAX_SESSIONS = 1_000;

interface Session {
  tokenHash: string;
  role: Role;
  ends: number;
}

export class WebSessions {
  private readonly byHash = new Map<string, Session>();

  constructor(
    /** The kind of the token with this hash while it is active. */
    private readonly roleOfHash: (tokenHash: string) => Role | undefined,
    private readonly now: () => number = Date.now,
    private readonly ttlMs = SESSION_TTL_MS,
  ) {}

  /** A new session for a token; its id goes into the cookie. */
  open(token: string, role: Role): string {
    const id = randomBytes(32).toString("base64url");
    if (this.byHash.size >= MAX_SESSIONS) this.byHash.delete(this.byHash.keys().next().value!);
    this.byHash.set(hashToken(id), { tokenHash: hashToken(token), role, ends: this.now() + this.ttlMs });
    return id;
  }

  /** A live session's role and its token's hash (what per-token limits count by), or undefined (none, ended, or its token no longer active). */
  callerOf(id: string | undefined): { role: Role; key: string } | undefined {
    if (id === undefined) return undefined;
    const key = hashToken(id);
    const s = this.byHash.get(key);
    if (!s) return undefined;
    if (this.now() >= s.ends || this.roleOfHash(s.tokenHash) !== s.role) {
      this.byHash.delete(key);
      return undefined;
    }
    return { role: s.role, key: s.tokenHash };
  }

  close(id: string | undefined): void {
    if (id !== undefined) this.byHash.delete(hashToken(id));
  }

  /** Seconds a new session's cookie lasts. */
  get maxAgeSeconds(): number {
    return Math.floor(this.ttlMs / 1000);
  }
}
