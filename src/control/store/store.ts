/**
 * What the control plane needs of its durable store, whatever holds it: SQLite in the data dir
 * (sqlite-store.ts, the default) or PostgreSQL (postgres/store.ts, `--store postgres://…`).
 * Only the writer loop calls `commit`, `probe` and `maintain`; a commit is one transaction
 * holding a turn's events and the rows they changed. `load` reads those rows back into a state.
 * Both keep the same tables (schema.ts, postgres/schema.ts) through the same row mapping (rows.ts).
 */
import type { ClusterEvent } from "../../core/events/cluster-events.js";
import type { ClusterState } from "../../core/model/cluster-state.js";
import type { SecretRecord } from "../../core/model/secrets.js";
import type { WorkloadSpec } from "../../gen/tessera/v1/types.js";
import type { CopyFact } from "../../core/output/log-sources.js";
import type { MaintenanceStats } from "./retention.js";
import type { StoredEvent } from "./rows.js";
import type { Fence, PostgresLease } from "./postgres/lease.js";

/**
 * The store cannot be reached (PostgreSQL down or cut off), said in words naming it: a call that
 * needs the store is refused UNAVAILABLE with this message, while what memory holds is still
 * answered.
 */
export class StoreUnreachable extends Error {}

/** Reads of the event log: describe, GetHistory, Watch, `logs` (the copies that ended). */
export interface EventHistory {
  /** The most recent `limit` events about a workload (0: all retained), oldest first. */
  recentEvents(workload: string, limit: number): Promise<StoredEvent[]>;
  /**
   * The most recent `limit` events the log indexes under a node (0: all retained), oldest
   * first: its own (connected, health, cordon, drain) and the placements of copies on it.
   */
  recentNodeEvents(node: string, limit: number): Promise<StoredEvent[]>;
  /**
   * Where a workload's last `limit` events start: the sequence number just before them (0 when
   * there are no more than `limit`, or when `limit` is 0, meaning all).
   */
  historyStart(workload: string, limit: number): Promise<number>;
  /** Up to `limit` events after a sequence number, oldest first; optionally of one workload. */
  eventsAfter(seq: number, limit: number, workload?: string): Promise<StoredEvent[]>;
  /**
   * The oldest sequence number the log still holds (0 when it is empty). A Watch resuming
   * after a sequence number below `oldestSeq() - 1` has missed events that retention dropped.
   */
  oldestSeq(): Promise<number>;
  /**
   * The newest sequence number ever assigned, even if retention has since dropped it (0: none).
   * Synchronous: a reader pairs it with the writer's view of the same moment.
   */
  newestSeq(): number;
  /**
   * What the log says of a workload's copies, newest first: where each was placed, that it
   * ran, that it ended (failed, or finished). The reader (lastEndedCopies) may stop early.
   */
  copyFacts(workload: string): Promise<Iterable<CopyFact>>;
  /**
   * The spec of revision `revision` of the workload now named `workload` (what `rollout undo
   * --to-revision` goes back to; rollout-history.ts reads it from the log), while the log
   * retains it; undefined otherwise.
   */
  revisionSpec(workload: string, revision: number): Promise<WorkloadSpec | undefined>;
}

export interface Store {
  readonly history: EventHistory;
  /** Where the store is, for logs and refusals: a file, or a URL without its password. */
  readonly location: string;
  /** Rebuilds the state from the derived tables, through the core (restoreState). */
  load(): Promise<ClusterState>;
  /**
   * Appends the events (volatile ones excepted) and rewrites every row they touched from
   * `state`, which must already have them applied. One transaction. `state` is read before the
   * first await: the writer goes on deciding turns while a commit is under way (writer.ts).
   */
  commit(events: ClusterEvent[], state: ClusterState): Promise<StoredEvent[]>;
  /** Trims the event log to the retention (retention.ts) and whatever the engine needs. */
  maintain(now: number): Promise<MaintenanceStats>;
  /** A small write in a transaction of its own: resolves once the store takes writes again. */
  probe(now: number): Promise<void>;
  /** The id of the cluster this database belongs to (see core/cluster-identity.ts), if recorded. */
  clusterId(): Promise<string | undefined>;
  /** On PostgreSQL, only when none is recorded (the first of control planes starting together wins); read it back. */
  recordClusterId(id: string): Promise<void>;
  /** Whether anything was ever recorded: a control plane ran on this database. */
  hasState(): Promise<boolean>;
  /** What this store can do besides the above: the lifecycle asks this, never the store's class. */
  readonly supports: StoreSupport;
  close(): Promise<void>;
}

/** What a store supports beyond Store; each is absent where it has none. */
export interface StoreSupport {
  /** Control planes sharing the database, one leading under a lease and the others following it (PostgreSQL). */
  readonly lease?: SharedDatabase;
  /** The cluster CA kept in the database, so that every control plane on it serves the same (PostgreSQL). */
  readonly clusterCa?: ClusterCaStore;
  /** A snapshot file's parts, as SaveSnapshot sends it and scheduled snapshots keep it (SQLite: its data dir's files; PostgreSQL: its tables). */
  readonly snapshot?: (now: number) => Promise<{ header: Uint8Array; parts: Uint8Array[] }>;
}

/**
 * A database several control planes share: one leads under a lease that fences its commits
 * (leadership.ts), the others follow what it commits as standbys (follower.ts, standby.ts).
 */
export interface SharedDatabase {
  readonly history: EventHistory & {
    /** The newest sequence number is `seq` (a standby's followed state, handed to the term that starts). */
    advance(seq: number): void;
  };
  readonly location: string;
  /** The lease's own connection, apart from the store's pool; its statements time out after `statementTimeoutMs`. */
  openLease(statementTimeoutMs: number): PostgresLease;
  /** The lease every commit is checked against; none: commits are refused, saying `why`. */
  fenceWith(fence: Fence | undefined, why?: string): void;
  /** The state and the newest sequence number it holds, read in one transaction. */
  loadWithSeq(): Promise<{ state: ClusterState; seq: number }>;
  /** Every secret and config with its sealed values: what a standby's state, folded from the log, lacks. */
  secrets(): Promise<SecretRecord[]>;
  /** Hears each commit's newest sequence number; `listening` once heard from. Resolves to the function that stops. */
  followCommits(committed: (seq: number) => void, listening: () => void): Promise<() => Promise<void>>;
}

/** Where the cluster CA is kept in the database: its certificate and its sealed key. */
export interface ClusterCaStore {
  /** The stored CA, or the one `create` makes stored now (`created`) when there is none: the first control plane's. */
  clusterCa(create: () => Promise<{ cert: string; sealedKey: string }>): Promise<{ cert: string; sealedKey: string; created: boolean }>;
}
