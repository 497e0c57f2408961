/**
 * Keeps the PostgreSQL store bounded under endless churn: retention (../retention.ts) trims
 * the event log's oldest end, `batch` events per DELETE, within `budgetMs`, as SQLite's
 * maintenance does. The space of deleted rows is PostgreSQL's autovacuum's to reclaim.
 */
import { asc, lte, sql } from "drizzle-orm";
import { expiredThrough, expiry, type MaintenanceStats, type Retention } from "../retention.js";
import type { PostgresDatabase, PostgresEventHistory } from "./history.js";
import * as schema from "./schema.js";

export type PostgresMaintenanceStats = MaintenanceStats & {
  /** The event log's table with its indexes and TOAST. */
  eventsBytes: number;
};

export async function maintain(db: PostgresDatabase, history: PostgresEventHistory, retention: Retention, now: number): Promise<PostgresMaintenanceStats> {
  const started = performance.now();
  const newestSeq = history.newestSeq();
  const expired = expiry(retention, newestSeq, now);
  const oldest = (n: number) => db.select({ seq: schema.events.seq, at: schema.events.at }).from(schema.events).orderBy(asc(schema.events.seq)).limit(n);
  let deleted = 0;
  let more = false;
  for (;;) {
    const head = await oldest(retention.batch);
    const upto = expiredThrough(head, expired);
    if (upto < 0) break;
    deleted += (await db.delete(schema.events).where(lte(schema.events.seq, upto)).returning({ seq: schema.events.seq })).length;
    more = upto === head[head.length - 1]!.seq && head.length === retention.batch;
    if (!more || performance.now() - started >= retention.budgetMs) break;
  }
  if (more) {
    const next = (await oldest(1))[0];
    more = next !== undefined && expired(next);
  }
  const size = await db.execute<{ bytes: string }>(sql`SELECT pg_total_relation_size('events') AS bytes`);
  return {
    deleted,
    more,
    oldestSeq: await history.oldestSeq(),
    newestSeq,
    eventsBytes: Number(size[0]?.bytes ?? 0),
    ms: +(performance.now() - started).toFixed(2),
  };
}
