/**
 * Leadership of several control planes on one PostgreSQL database (issue 20): what a control
 * plane decides about the lease the database hands out. PURE.
 *
 * The database's clock decides whether a lease has expired (the shell's SQL compares with its
 * own clock, never ours). What is decided here, on the control plane's monotonic clock, is when
 * a leader must stop believing it leads: a renewal sent at `sentAt` that succeeded set the
 * expiry to the database's clock at the statement plus the TTL, and the statement ran after
 * `sentAt`, so the lease lasts at least until `sentAt + ttl` on our clock. A leader steps down
 * a renewal interval before that moment, whether or not anyone is there to take over.
 */

export interface LeaseTiming {
  /** How long a taken or renewed lease lasts, on the database's clock. */
  ttlMs: number;
  /** How often the leader renews it and a standby tries to take it. */
  renewMs: number;
}

export const DEFAULT_LEASE_TIMING: LeaseTiming = { ttlMs: 5_000, renewMs: 1_000 };

/** The lease as the database holds it; times are the database's clock, epoch ms. */
export interface Lease {
  /** The id of the control plane holding it (kept in its data dir across restarts). */
  holder: string;
  /** Where the holder serves gRPC (host:port). */
  address: string;
  /** Bumped at every take: the fencing token every commit is checked against. */
  epoch: number;
  renewedAt: number;
  expiresAt: number;
}

/** Refuses timings under which a leader could not renew well inside its lease, naming the flag. */
export function checkLeaseTiming(t: LeaseTiming): string | undefined {
  if (!Number.isFinite(t.ttlMs) || t.ttlMs < 1_000) return `--lease-ttl: expected at least 1s, got ${t.ttlMs}ms`;
  // Two renewals may fail and the leader still has a renewal interval to stop before expiry.
  if (!Number.isFinite(t.renewMs) || t.renewMs < 50 || t.renewMs * 3 > t.ttlMs) {
    return `--lease-renew: expected between 50ms and a third of --lease-ttl (${t.ttlMs}ms), got ${t.renewMs}ms`;
  }
  return undefined;
}

/** The latest moment (our monotonic ms) a leader whose last successful renewal was sent at `sentAt` still leads. */
export function stepDownAt(sentAt: number, t: LeaseTiming): number {
  return sentAt + t.ttlMs - t.renewMs;
}

/** How far past a lease's expiry a standby tries to take it: the database's times are rounded to the microsecond. */
const EXPIRY_MARGIN_MS = 5;

/**
 * How long a standby refused `lease` (the database's clock read `dbNow`) waits before its next
 * attempt: the renewal interval, or less when the lease runs out sooner. A leader renews a whole
 * TTL ahead, so a live one's lease never runs out within an interval and standbys keep to it;
 * a dead leader's lease is taken the moment it expires, not up to an interval later.
 */
export function retryAfter(lease: Lease | undefined, dbNow: number, t: LeaseTiming): number {
  if (lease === undefined) return t.renewMs;
  return Math.max(0, Math.min(t.renewMs, lease.expiresAt - dbNow + EXPIRY_MARGIN_MS));
}

/**
 * A standby `servingReads` led until the database stopped answering: it keeps its term's memory
 * to answer reads from (changes refused) until the database answers again, and then either
 * takes the lease again (a new term, loaded from the database) or, held by another, drops it.
 */
export type Leadership = { role: "standby"; servingReads?: boolean } | { role: "leader"; epoch: number; until: number };

/** What an attempt to take or renew the lease came back with. */
export type LeaseOutcome =
  /** The database granted it (took or renewed) to us, for the statement sent at `sentAt`. */
  | { type: "Granted"; lease: Lease; sentAt: number }
  /** Someone else holds it, or ours lapsed (`lease` is the row as it is, if any). */
  | { type: "Refused"; lease: Lease | undefined }
  /** The database did not answer (down, unreachable, timed out). */
  | { type: "Failed"; reason: string };

/**
 * Lead: start a term in `epoch` (ending any term kept for reads first). StepDown: end the term.
 * Suspend: stop writing (the fence) but keep the term to answer reads from memory.
 */
export type LeadershipAction = { type: "Lead"; epoch: number } | { type: "StepDown"; reason: string } | { type: "Suspend"; reason: string } | { type: "None" };

export interface LeadershipStep {
  leadership: Leadership;
  action: LeadershipAction;
}

const none = (leadership: Leadership): LeadershipStep => ({ leadership, action: { type: "None" } });
const STANDBY: Leadership = { role: "standby" };

/** Folds an attempt's outcome in; `now` is our monotonic clock when it came back. */
export function onLeaseOutcome(current: Leadership, outcome: LeaseOutcome, now: number, t: LeaseTiming): LeadershipStep {
  if (outcome.type === "Granted") {
    const until = stepDownAt(outcome.sentAt, t);
    // An answer that took too long proves nothing about now: the lease may have lapsed since.
    if (now >= until) {
      return current.role === "leader" ? { leadership: STANDBY, action: { type: "StepDown", reason: `the lease renewal took ${now - outcome.sentAt}ms, too long to know it still holds` } } : none(current);
    }
    if (current.role === "standby") return { leadership: { role: "leader", epoch: outcome.lease.epoch, until }, action: { type: "Lead", epoch: outcome.lease.epoch } };
    if (outcome.lease.epoch !== current.epoch) return { leadership: STANDBY, action: { type: "StepDown", reason: `the lease moved to epoch ${outcome.lease.epoch} while leading in epoch ${current.epoch}` } };
    return none({ ...current, until: Math.max(current.until, until) });
  }
  if (current.role === "standby") {
    // The database answers again and another holds the lease: what memory holds may be stale now.
    if (current.servingReads && outcome.type === "Refused") return { leadership: STANDBY, action: { type: "StepDown", reason: refusedReason(outcome.lease) } };
    return none(current);
  }
  if (outcome.type === "Refused") {
    return { leadership: STANDBY, action: { type: "StepDown", reason: refusedReason(outcome.lease) } };
  }
  // The database may come back before the lease runs out: keep leading until then (onTick).
  return onTick(current, now);
}

function refusedReason(held: Lease | undefined): string {
  return held ? `the lease is held by ${held.address} in epoch ${held.epoch}` : "the lease is gone";
}

/**
 * Checked on every tick of our clock: a leader past its deadline stops writing. Nothing said
 * the lease went to another (the database did not answer in time), so it keeps answering reads
 * from memory until the database does (onLeaseOutcome).
 */
export function onTick(current: Leadership, now: number): LeadershipStep {
  if (current.role === "leader" && now >= current.until) {
    return { leadership: { role: "standby", servingReads: true }, action: { type: "Suspend", reason: "could not renew the lease in time; changes are refused, reads answered from memory until the database answers" } };
  }
  return none(current);
}

/** Whether a lease is in force on the database's clock (`dbNow`). */
export function inForce(lease: Lease | undefined, dbNow: number): lease is Lease {
  return lease !== undefined && lease.expiresAt > dbNow;
}

/** What a standby refuses a change with (and every call before it follows a state). */
export function notLeaderMessage(lease: Lease | undefined, dbNow: number): string {
  return inForce(lease, dbNow) ? `not the leader; the leader is at ${lease.address} (epoch ${lease.epoch})` : "not the leader; no control plane leads at the moment (a standby takes over within the lease's TTL)";
}

/** A control plane that said it was there (each one, at every attempt), times on the database's clock. */
export interface Member {
  id: string;
  address: string;
  startedAt: number;
  seenAt: number;
  /** The newest event its state held when it was last seen (a leader's commits, a standby's following). */
  appliedSeq: number;
}

export type MemberRole = "leader" | "standby" | "gone";

export interface ControlPlaneRow {
  id: string;
  address: string;
  role: MemberRole;
  /** The lease's epoch for the leader; 0 for the others. */
  epoch: number;
  /** The leader's last renewal, or when a standby last tried to take the lease (database clock, epoch ms). */
  lastRenewal: number;
  /** How many committed events its state lacked when last seen: the newest committed minus what it had applied; the leader 0. */
  behind: number;
}

/**
 * The control planes on one database, leader first, then by address: a member unheard for a
 * TTL is "gone" (its row stays until it is `forgetAfterMs` old, then it is left out). `newestSeq`
 * is the newest committed event: a standby is behind by what it had not applied when last seen.
 */
export function describeControlPlanes(members: readonly Member[], lease: Lease | undefined, newestSeq: number, dbNow: number, t: LeaseTiming, forgetAfterMs: number): ControlPlaneRow[] {
  const leading = inForce(lease, dbNow) ? lease : undefined;
  const rows = members
    .filter((m) => m.id === leading?.holder || dbNow - m.seenAt <= forgetAfterMs)
    .map((m): ControlPlaneRow => {
      if (m.id === leading?.holder) return { id: m.id, address: leading.address, role: "leader", epoch: leading.epoch, lastRenewal: leading.renewedAt, behind: 0 };
      return { id: m.id, address: m.address, role: dbNow - m.seenAt <= t.ttlMs ? "standby" : "gone", epoch: 0, lastRenewal: m.seenAt, behind: Math.max(0, newestSeq - m.appliedSeq) };
    });
  const rank = (r: ControlPlaneRow) => (r.role === "leader" ? 0 : r.role === "standby" ? 1 : 2);
  return rows.sort((a, b) => rank(a) - rank(b) || a.address.localeCompare(b.address) || a.id.localeCompare(b.id));
}
