/**
 * Reads of the SQLite event log (store.ts's EventHistory): a workload's or a node's recent
 * events (describe), pages of history after a sequence number (GetHistory, Watch), the log's
 * bounds (retention), the failures crash-loop quarantine remembers across a restart, and what
 * `logs` needs to find copies that ended. bun:sqlite is synchronous: each read is done when
 * its promise is returned.
 */
import type { Database } from "bun:sqlite";
import { and, asc, desc, eq, gt, inArray, type SQL } from "drizzle-orm";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import type { StoredState } from "../../../core/events/stored-state.js";
import type { CopyFact } from "../../../core/output/log-sources.js";
import { REVISION_EVENTS } from "../../../core/events/rollout-history.js";
import type { WorkloadSpec } from "../../../gen/tessera/v1/types.js";
import { copyFactFromRow, eventFromRow, failuresFromRows, revisionSpecIn, type StoredEvent } from "../rows.js";
import * as schema from "./schema.js";
import type { EventHistory } from "../store.js";

export class SqliteEventHistory implements EventHistory {
  constructor(
    private readonly sqlite: Database,
    private readonly db: BunSQLiteDatabase<typeof schema>,
  ) {}

  /** The most recent `limit` events about a workload (0: all retained), oldest first. */
  async recentEvents(workload: string, limit: number): Promise<StoredEvent[]> {
    return this.newest(eq(schema.events.workload, workload), limit);
  }

  /**
   * The most recent `limit` events the log indexes under a node (0: all retained), oldest
   * first: its own (connected, health, cordon, drain) and the placements of copies on it.
   */
  async recentNodeEvents(node: string, limit: number): Promise<StoredEvent[]> {
    return this.newest(eq(schema.events.node, node), limit);
  }

  /** Read backwards along the index `cond` uses: no more rows than it returns. */
  private newest(cond: SQL, limit: number): StoredEvent[] {
    const q = this.db.select().from(schema.events).where(cond).orderBy(desc(schema.events.seq));
    return (limit > 0 ? q.limit(limit) : q).all().reverse().map(eventFromRow);
  }

  /**
   * Where a workload's last `limit` events start: the sequence number just before them (0 when
   * there are no more than `limit`, or when `limit` is 0, meaning all).
   */
  async historyStart(workload: string, limit: number): Promise<number> {
    if (limit === 0) return 0;
    const before = this.db.select({ seq: schema.events.seq }).from(schema.events).where(eq(schema.events.workload, workload)).orderBy(desc(schema.events.seq)).limit(1).offset(limit).get();
    return before?.seq ?? 0;
  }

  /** The spec of a revision of the workload now named `workload` (store.ts), from its revision events in log order. */
  async revisionSpec(workload: string, revision: number): Promise<WorkloadSpec | undefined> {
    const rows = this.db.select().from(schema.events).where(and(eq(schema.events.workload, workload), inArray(schema.events.type, [...REVISION_EVENTS]))).orderBy(asc(schema.events.seq)).all();
    return revisionSpecIn(rows, revision);
  }


  /** Up to `limit` events after a sequence number, oldest first; optionally of one workload. */
  async eventsAfter(seq: number, limit: number, workload?: string): Promise<StoredEvent[]> {
    const cond = workload ? and(gt(schema.events.seq, seq), eq(schema.events.workload, workload)) : gt(schema.events.seq, seq);
    return this.db.select().from(schema.events).where(cond).orderBy(asc(schema.events.seq)).limit(limit).all().map(eventFromRow);
  }

  /**
   * The oldest sequence number the log still holds (0 when it is empty). A Watch resuming
   * after a sequence number below `oldestSeq() - 1` has missed events that retention dropped.
   */
  async oldestSeq(): Promise<number> {
    return this.oldestSeqNow();
  }

  oldestSeqNow(): number {
    return this.sqlite.query<{ seq: number | null }, []>("SELECT MIN(seq) AS seq FROM events").get()?.seq ?? 0;
  }

  /** The newest sequence number ever assigned, even if retention has since dropped it (0: none). */
  newestSeq(): number {
    return this.sqlite.query<{ seq: number | null }, []>("SELECT seq FROM sqlite_sequence WHERE name = 'events'").get()?.seq ?? 0;
  }

  /**
   * What the log says of a workload's copies, newest first: where each was placed, that it
   * ran, that it ended (failed, or finished). Read lazily, by the workload's index: the
   * reader (lastEndedCopies) stops once it has what it needs. The statement is its own (a
   * cached one has one cursor, which another read would take over) and finalized either way.
   */
  async copyFacts(workload: string): Promise<Iterable<CopyFact>> {
    return this.copyFactsLazily(workload);
  }

  private *copyFactsLazily(workload: string): Generator<CopyFact> {
    const q = this.sqlite.prepare<{ instance: string; node: string | null; kind: string }, [string]>(
      `SELECT instance, node, json_extract(data, '$.event.type') AS kind FROM events
         WHERE workload = ? AND type = 'InstanceTransitioned' AND json_extract(data, '$.event.type') IN ('place', 'run', 'fail', 'finish')
         ORDER BY seq DESC`,
    );
    try {
      for (const r of q.iterate(workload)) yield copyFactFromRow(r);
    } finally {
      q.finalize();
    }
  }

  /** Recent failures (for crash-loop quarantine), read for rows.ts's failuresFromRows. */
  failures(placedNow: ReadonlyMap<string, string | null>): StoredState["failures"] {
    const rows = this.sqlite
      .query<{ instance: string | null; node: string | null; at: number; lifted: string | null }, []>(
        `SELECT instance, node, at, CASE WHEN type = 'QuarantineLifted' THEN workload END AS lifted FROM events
           WHERE (type = 'InstanceTransitioned' AND (node IS NOT NULL OR json_extract(data, '$.event.type') = 'fail'))
              OR type = 'QuarantineLifted' ORDER BY seq`,
      )
      .all();
    return failuresFromRows(rows, placedNow);
  }
}
