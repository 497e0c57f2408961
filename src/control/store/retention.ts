/**
 * How much of the event log is kept, for both stores, and which of its oldest events are past
 * that. The log is history only (GetHistory, Watch, describe, crash-loop history, `tessera
 * replay`): a restart rebuilds the state from the derived tables, so dropping old events never
 * changes what the control plane does, only how far back one can look. Pure.
 */

/**
 * An event is dropped once it is beyond the newest `maxEvents` OR older than `maxAgeMs`,
 * whichever comes first; history is bounded by both.
 */
export interface Retention {
  /** Events kept at most (the newest). */
  maxEvents: number;
  /** Events older than this (by their `at`, against maintain's `now`) are dropped. */
  maxAgeMs: number;
  /** Events deleted per DELETE statement (one short write transaction each). */
  batch: number;
  /** Time one maintain() call may spend deleting; it reports `more` when it stopped early. */
  budgetMs: number;
}

/** 200,000 events is about 40 MB of database; 7 days covers a week of `history`. */
const DEFAULT_MAX_EVENTS = 200_000;
const DEFAULT_MAX_AGE_MS = 7 * 86_400_000;
/** About 10 ms of deleting per statement on a laptop. */
const DEFAULT_DELETE_BATCH = 5_000;
/** Deleting runs on the writer's turn: a call never holds it for long. */
const DEFAULT_MAINTENANCE_BUDGET_MS = 50;

export const DEFAULT_RETENTION: Readonly<Retention> = {
  maxEvents: DEFAULT_MAX_EVENTS,
  maxAgeMs: DEFAULT_MAX_AGE_MS,
  batch: DEFAULT_DELETE_BATCH,
  budgetMs: DEFAULT_MAINTENANCE_BUDGET_MS,
};

/** What one maintain() call did, for the writer to log (a type, not an interface: it is log fields). */
export type MaintenanceStats = {
  /** Events deleted by this call. */
  deleted: number;
  /** Some events are still beyond the retention (the budget ran out): call again soon. */
  more: boolean;
  /** Oldest sequence number still in the log (0: the log is empty). */
  oldestSeq: number;
  /** Newest sequence number ever assigned (never reused after deletes). */
  newestSeq: number;
  /** Something the operator should hear of (the writer logs it as a warning). */
  warning?: string;
  ms: number;
};

/**
 * Whether an event is past the retention, given the newest sequence number and `now`. Age is
 * judged from the log's oldest end: the log is in commit order, so its times only go up (a
 * clock stepping back merely delays age deletion; the count cap still holds).
 */
export function expiry(retention: Retention, newestSeq: number, now: number): (r: { seq: number; at: number }) => boolean {
  const countCut = newestSeq - retention.maxEvents;
  const ageCut = now - retention.maxAgeMs;
  return (r) => r.seq <= countCut || r.at < ageCut;
}

/** The last sequence number of the expired prefix of the log's oldest events, or -1 when none is. */
export function expiredThrough(oldest: readonly { seq: number; at: number }[], expired: (r: { seq: number; at: number }) => boolean): number {
  let upto = -1;
  for (const r of oldest) {
    if (!expired(r)) break;
    upto = r.seq;
  }
  return upto;
}
