/**
 * Reads of the PostgreSQL event log (store.ts's EventHistory), the same queries as
 * sqlite-history.ts's over postgres/schema.ts. The newest sequence number is kept in memory:
 * read once on open, then advanced by each commit of the one writer.
 */
import { and, asc, desc, eq, gt, inArray, or, type SQL, sql } from "drizzle-orm";
import type { BunSQLDatabase } from "drizzle-orm/bun-sql";
import type { StoredState } from "../../../core/events/stored-state.js";
import type { CopyFact } from "../../../core/output/log-sources.js";
import { REVISION_EVENTS } from "../../../core/events/rollout-history.js";
import type { WorkloadSpec } from "../../../gen/tessera/v1/types.js";
import { copyFactFromRow, eventFromRow, failuresFromRows, revisionSpecIn, type StoredEvent } from "../rows.js";
import type { EventHistory } from "../store.js";
import * as schema from "./schema.js";
import { said } from "./unreachable.js";

export type PostgresDatabase = BunSQLDatabase<typeof schema>;

/** The event's own type inside an InstanceTransitioned row (data is JSON text). */
const TRANSITION = sql`((${schema.events.data})::jsonb -> 'event' ->> 'type')`;

export class PostgresEventHistory implements EventHistory {
  private newest = 0;

  /** `location`: the database, as a refusal names it when it cannot be reached (calls answer UNAVAILABLE). */
  constructor(
    private readonly db: PostgresDatabase,
    private readonly location: string,
  ) {}

  /** Reads the newest sequence number the log's sequence ever gave (0: none yet). */
  async open(): Promise<void> {
    const rows = await this.db.execute<{ last_value: string; is_called: boolean }>(sql`SELECT last_value, is_called FROM events_seq_seq`);
    this.newest = rows[0]?.is_called ? Number(rows[0].last_value) : 0;
  }

  /** The writer committed events up to `seq`. */
  advance(seq: number): void {
    if (seq > this.newest) this.newest = seq;
  }

  recentEvents(workload: string, limit: number): Promise<StoredEvent[]> {
    return this.newestOf(eq(schema.events.workload, workload), limit);
  }

  recentNodeEvents(node: string, limit: number): Promise<StoredEvent[]> {
    return this.newestOf(eq(schema.events.node, node), limit);
  }

  private async newestOf(cond: SQL, limit: number): Promise<StoredEvent[]> {
    const q = this.db.select().from(schema.events).where(cond).orderBy(desc(schema.events.seq));
    return (await this.said(() => (limit > 0 ? q.limit(limit) : q))).reverse().map(eventFromRow);
  }

  async historyStart(workload: string, limit: number): Promise<number> {
    if (limit === 0) return 0;
    const before = await this.said(() => this.db.select({ seq: schema.events.seq }).from(schema.events).where(eq(schema.events.workload, workload)).orderBy(desc(schema.events.seq)).limit(1).offset(limit));
    return before[0]?.seq ?? 0;
  }

  async eventsAfter(seq: number, limit: number, workload?: string): Promise<StoredEvent[]> {
    const cond = workload ? and(gt(schema.events.seq, seq), eq(schema.events.workload, workload)) : gt(schema.events.seq, seq);
    return (await this.said(() => this.db.select().from(schema.events).where(cond).orderBy(asc(schema.events.seq)).limit(limit))).map(eventFromRow);
  }

  async revisionSpec(workload: string, revision: number): Promise<WorkloadSpec | undefined> {
    const rows = await this.said(() => this.db.select().from(schema.events).where(and(eq(schema.events.workload, workload), inArray(schema.events.type, [...REVISION_EVENTS]))).orderBy(asc(schema.events.seq)));
    return revisionSpecIn(rows, revision);
  }

  async oldestSeq(): Promise<number> {
    const rows = await this.said(() => this.db.select({ seq: sql<string | null>`MIN(${schema.events.seq})` }).from(schema.events));
    return Number(rows[0]?.seq ?? 0);
  }

  newestSeq(): number {
    return this.newest;
  }

  private said<T>(run: () => PromiseLike<T>): Promise<T> {
    return said(this.location, async () => await run());
  }

  /** Read whole (retention bounds it): the reader is synchronous. */
  async copyFacts(workload: string): Promise<Iterable<CopyFact>> {
    const rows = await this.said(() =>
      this.db
        .select({ instance: sql<string>`${schema.events.instance}`, node: schema.events.node, kind: sql<string>`${TRANSITION}` })
        .from(schema.events)
        .where(and(eq(schema.events.workload, workload), eq(schema.events.type, "InstanceTransitioned"), sql`${TRANSITION} IN ('place', 'run', 'fail', 'finish')`))
        .orderBy(desc(schema.events.seq)),
    );
    return rows.map(copyFactFromRow);
  }

  /** Recent failures (for crash-loop quarantine), read for rows.ts's failuresFromRows; in `db`'s snapshot (a load's transaction). */
  async failures(placedNow: ReadonlyMap<string, string | null>, db: Pick<PostgresDatabase, "select"> = this.db): Promise<StoredState["failures"]> {
    const rows = await db
      .select({
        instance: schema.events.instance,
        node: schema.events.node,
        at: schema.events.at,
        lifted: sql<string | null>`CASE WHEN ${schema.events.type} = 'QuarantineLifted' THEN ${schema.events.workload} END`,
      })
      .from(schema.events)
      .where(
        or(
          and(eq(schema.events.type, "InstanceTransitioned"), sql`(${schema.events.node} IS NOT NULL OR ${TRANSITION} = 'fail')`),
          eq(schema.events.type, "QuarantineLifted"),
        ),
      )
      .orderBy(asc(schema.events.seq));
    return failuresFromRows(rows, placedNow);
  }
}
