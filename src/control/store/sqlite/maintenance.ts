/**
 * Keeps the SQLite store bounded under endless churn: retention (retention.ts) trims the event
 * log's oldest end, and a checkpoint folds the WAL back into the database. The writer runs it
 * between turns.
 */
import type { Database } from "bun:sqlite";
import { existsSync, statSync } from "node:fs";
import { expiredThrough, expiry, type MaintenanceStats, type Retention } from "../retention.js";
import type { SqliteEventHistory } from "./history.js";

/** SQLite's maintenance: the common stats plus the WAL's and the file's. */
export type SqliteMaintenanceStats = MaintenanceStats & {
  walBytesBefore: number;
  walBytesAfter: number;
  /**
   * The WAL could not be checkpointed to its end, i.e. another connection (a backup, a
   * `sqlite3` shell, a reader holding an old snapshot) pins it. While that lasts the WAL
   * cannot be reset and grows with every commit: worth a warning.
   */
  checkpointBlocked: boolean;
  /** Size of the database file, and how much of it is free pages awaiting reuse. */
  dbBytes: number;
  freeBytes: number;
};

/**
 * How many pages the WAL takes before a commit checkpoints it (SQLite's default is 1,000, about
 * 4 MiB): 64 MiB. A checkpoint writes every page changed since the last one into the database
 * once, so under a burst of turns the pages they all touch (the log's and the copies' indexes)
 * are written once per 64 MiB instead of once per 4: the turns of a burst of 50,000 workloads
 * committed in a sixth less time. Between maintenance calls the WAL stays under it.
 */
export const AUTO_CHECKPOINT_PAGES = 16_384;

/**
 * After a checkpoint that reaches the WAL's end, SQLite reuses the WAL from its start and cuts
 * the file back to this size: the auto-checkpoint's, so a burst does not shrink and regrow it.
 */
export const WAL_SIZE_LIMIT = 64 * 1024 * 1024;

/**
 * Trims and checkpoints the store at `path`; the writer calls it every minute or so, and again
 * soon while it reports `more`.
 *
 * 1. Retention: deletes the log's oldest events while they are beyond `maxEvents` or older
 *    than `maxAgeMs`, `batch` at a time (by sequence range: no table scan), until none is
 *    left or `budgetMs` is spent. Age is judged from the oldest end: the log is in commit
 *    order, so its times only go up (a clock stepping back merely delays age deletion; the
 *    count cap still holds). Derived tables are never touched.
 * 2. Checkpoint: `wal_checkpoint(TRUNCATE)` copies the WAL into the database and truncates
 *    it to zero bytes. It never waits: with busy_timeout 0 a reader that pins the WAL makes
 *    it do what it can and report `checkpointBlocked` instead of stalling the writer.
 * 3. The database file: deleted rows leave free pages that later inserts reuse, so once the
 *    log is at its cap the file stops growing (measured in store-churn.test.ts); it does
 *    not shrink (no auto_vacuum: it would need a VACUUM of existing stores, and a file at
 *    its high-water mark is what the next peak needs anyway).
 */
export function maintain(sqlite: Database, path: string, history: SqliteEventHistory, retention: Retention, now: number): SqliteMaintenanceStats {
  const started = performance.now();
  const { batch, budgetMs } = retention;
  const walPath = `${path}-wal`;
  const walBytesBefore = fileSize(walPath);
  const newestSeq = history.newestSeq();
  const expired = expiry(retention, newestSeq, now);
  const oldest = sqlite.query<{ seq: number; at: number }, [number]>("SELECT seq, at FROM events ORDER BY seq LIMIT ?");
  const cut = sqlite.query<never, [number]>("DELETE FROM events WHERE seq <= ?");
  let deleted = 0;
  let more = false;
  for (;;) {
    // The expired prefix of the oldest `batch` events.
    const head = oldest.all(batch);
    const upto = expiredThrough(head, expired);
    if (upto < 0) break;
    deleted += cut.run(upto).changes;
    more = upto === head[head.length - 1]!.seq && head.length === batch;
    if (!more || performance.now() - started >= budgetMs) break;
  }
  if (more) {
    const next = oldest.get(1);
    more = next !== null && expired(next);
  }
  const checkpoint = checkpointWithoutWaiting(sqlite);
  const pageSize = pragma(sqlite, "page_size");
  const checkpointBlocked = checkpoint.busy !== 0 || checkpoint.log !== checkpoint.checkpointed;
  return {
    deleted,
    more,
    oldestSeq: history.oldestSeqNow(),
    newestSeq,
    walBytesBefore,
    walBytesAfter: fileSize(walPath),
    checkpointBlocked,
    warning: checkpointBlocked ? "WAL checkpoint blocked by another connection; the WAL grows until it is released" : undefined,
    dbBytes: fileSize(path),
    freeBytes: pragma(sqlite, "freelist_count") * pageSize,
    ms: +(performance.now() - started).toFixed(2),
  };
}

/** Checkpoints and truncates the WAL without waiting for other connections. */
function checkpointWithoutWaiting(sqlite: Database): { busy: number; log: number; checkpointed: number } {
  const busyTimeout = pragma(sqlite, "busy_timeout");
  sqlite.exec("PRAGMA busy_timeout = 0");
  try {
    return sqlite.query<{ busy: number; log: number; checkpointed: number }, []>("PRAGMA wal_checkpoint(TRUNCATE)").get()!;
  } finally {
    sqlite.exec(`PRAGMA busy_timeout = ${busyTimeout}`);
  }
}

function pragma(sqlite: Database, name: "page_size" | "freelist_count" | "busy_timeout"): number {
  return Object.values(sqlite.query(`PRAGMA ${name}`).get() as Record<string, number>)[0] ?? 0;
}

function fileSize(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}
