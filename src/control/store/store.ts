/**
 * The control plane's durable store: drizzle-orm over bun:sqlite in WAL mode.
 * Only the writer loop calls `commit`; one call is one SQLite transaction holding a turn's
 * events and the rows they changed.
 */
import { Database, type SQLQueryBindings } from "bun:sqlite";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { and, asc, desc, eq, getTableColumns, gt, is, Param, Placeholder, type SQLWrapper, sql } from "drizzle-orm";
import { type BunSQLiteDatabase, drizzle } from "drizzle-orm/bun-sqlite";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import { WorkloadSpec as WireSpec } from "../../gen/tessera/v1/types.js";
import { touches } from "../../core/event-facts.js";
import type { InstanceState } from "../../core/instance-machine.js";
import { type ClusterEvent, EVENT_VERSION, isVolatile, restoreState, type StoredState } from "../../core/cluster-events.js";
import { type ClusterState, instanceName, type TokenKind, workloadOfInstanceId } from "../../core/cluster-state.js";
import { embeddedMigrations } from "./embedded-migrations.js" with { type: "macro" };
import * as schema from "./schema.js";

export interface StoredEvent {
  seq: number;
  /** Entities the event concerns, as indexed in the log. */
  workload: string | null;
  instance: string | null;
  node: string | null;
  event: ClusterEvent;
}

/**
 * How much of the event log is kept. The log is history only (GetHistory, Watch, describe,
 * crash-loop history, `tessera replay`): a restart rebuilds the state from the derived tables,
 * so dropping old events never changes what the control plane does, only how far back one
 * can look. An event is dropped once it is beyond the newest `maxEvents` OR older than
 * `maxAgeMs`, whichever comes first; history is bounded by both.
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
export const DEFAULT_MAX_EVENTS = 200_000;
export const DEFAULT_MAX_AGE_MS = 7 * 86_400_000;
/** About 10 ms of deleting per statement on a laptop. */
export const DEFAULT_DELETE_BATCH = 5_000;
/** Deleting runs on the writer's turn: a call never holds it for long. */
export const DEFAULT_MAINTENANCE_BUDGET_MS = 50;

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
  /** Newest sequence number ever assigned (AUTOINCREMENT: never reused after deletes). */
  newestSeq: number;
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
  ms: number;
};

/**
 * After a checkpoint that reaches the WAL's end, SQLite reuses the WAL from its start and cuts
 * the file back to this size. Auto-checkpoints (every 1,000 pages, about 4 MiB) keep the WAL
 * near 4 MiB between maintenance calls; the limit only bites after a turn bigger than that.
 */
export const WAL_SIZE_LIMIT = 16 * 1024 * 1024;

/** The meta row holding the cluster's id. */
const CLUSTER_ID_KEY = "cluster_id";

/** How long a statement waits for another connection's lock before failing. */
const BUSY_TIMEOUT_MS = 5_000;

/** A row of named values, bound to a compiled statement's placeholders of the same names. */
type Row = Record<string, unknown>;

/**
 * A statement drizzle writes from the schema, run directly on bun:sqlite. Drizzle builds the
 * SQL and knows each parameter's column encoder (JSON, booleans); binding the values ourselves,
 * positionally, skips its per-run placeholder mapping, which cost as much as SQLite itself on
 * the writer's hot path (a turn writes tens of thousands of rows under a burst).
 */
function compile(sqlite: Database, query: SQLWrapper & { toSQL(): { sql: string; params: unknown[] } }) {
  const { sql: text, params } = query.toSQL();
  const binders = params.map((p): ((row: Row) => unknown) => {
    const placeholder = (is(p, Param) ? p.value : p) as Placeholder;
    if (!is(placeholder, Placeholder)) throw new Error(`compile: parameter ${String(placeholder)} is not a placeholder`);
    const encoder = is(p, Param) ? p.encoder : undefined;
    const name = placeholder.name;
    return (row) => {
      const value = row[name];
      if (value === undefined) throw new Error(`no value for placeholder "${name}"`);
      return encoder ? encoder.mapToDriverValue(value) : value;
    };
  });
  const statement = sqlite.prepare<unknown, SQLQueryBindings[]>(text);
  return (row: Row) => statement.run(...(binders.map((b) => b(row)) as SQLQueryBindings[]));
}

/** Every column of `table` but `omit` as a placeholder named after its key. */
function placeholders(table: SQLiteTable, omit: string[] = []) {
  return Object.fromEntries(
    Object.keys(getTableColumns(table))
      .filter((key) => !omit.includes(key))
      .map((key) => [key, sql.placeholder(key)]),
  );
}

/** An upsert of whole rows: a conflict on `target` overwrites the row from `excluded` (drizzle's documented pattern). */
function upsert<T extends SQLiteTable>(sqlite: Database, db: BunSQLiteDatabase<typeof schema>, table: T, target: SQLiteColumn) {
  const set = Object.fromEntries(Object.entries(getTableColumns(table)).map(([key, col]) => [key, sql.raw(`excluded.${col.name}`)]));
  return compile(sqlite, db.insert(table).values(placeholders(table) as never).onConflictDoUpdate({ target, set: set as never }));
}

/** The writer's statements, compiled once per store. */
function prepareWrites(sqlite: Database, db: BunSQLiteDatabase<typeof schema>) {
  return {
    /** Its `lastInsertRowid` is the event's sequence number (AUTOINCREMENT). */
    appendEvent: compile(sqlite, db.insert(schema.events).values(placeholders(schema.events, ["seq"]) as never)),
    upsertWorkload: upsert(sqlite, db, schema.workloads, schema.workloads.name),
    deleteWorkload: compile(sqlite, db.delete(schema.workloads).where(eq(schema.workloads.name, sql.placeholder("name")))),
    upsertInstance: upsert(sqlite, db, schema.instances, schema.instances.id),
    deleteInstance: compile(sqlite, db.delete(schema.instances).where(eq(schema.instances.id, sql.placeholder("id")))),
    upsertNode: upsert(sqlite, db, schema.nodes, schema.nodes.name),
    upsertMeta: upsert(sqlite, db, schema.meta, schema.meta.key),
  };
}

function fileSize(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

function toStored(r: typeof schema.events.$inferSelect): StoredEvent {
  return { seq: r.seq, workload: r.workload, instance: r.instance, node: r.node, event: JSON.parse(r.data) as ClusterEvent };
}

export class Store {
  readonly sqlite: Database;
  private readonly db: BunSQLiteDatabase<typeof schema>;
  private readonly statements: ReturnType<typeof prepareWrites>;

  private readonly retention: Retention;
  /** The database file. */
  readonly path: string;

  constructor(dataDir: string, retention: Partial<Retention> = {}) {
    this.retention = { ...DEFAULT_RETENTION, ...retention };
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.path = join(dataDir, "tessera.db");
    this.sqlite = new Database(this.path, { create: true, strict: true });
    this.sqlite.exec("PRAGMA journal_mode = WAL");
    // NORMAL in WAL mode: a commit survives a process crash (kill -9: the WAL is in the OS's
    // page cache and recovered on the next open; see store-churn.test.ts); only an OS crash
    // or power loss can lose the last transactions, and never corrupts the file (the WAL is
    // fsynced at each checkpoint). FULL would fsync on every turn of the writer.
    this.sqlite.exec("PRAGMA synchronous = NORMAL");
    this.sqlite.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // After a checkpoint the WAL file is cut back to this size instead of keeping its peak.
    this.sqlite.exec(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT}`);
    this.db = drizzle(this.sqlite, { schema });
    // The dialect's migrator is what drizzle's folder migrator calls after reading the files.
    (this.db as unknown as { dialect: { migrate: (m: unknown, s: unknown, c: unknown) => void }; session: unknown }).dialect.migrate(
      embeddedMigrations(),
      (this.db as unknown as { session: unknown }).session,
      { migrationsFolder: "embedded" },
    );
    this.statements = prepareWrites(this.sqlite, this.db);
  }

  /**
   * Keeps the store bounded under endless churn; the writer calls it between turns, every
   * minute or so, and again soon while it reports `more`.
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
  maintain(now: number): MaintenanceStats {
    const started = performance.now();
    const { maxEvents, maxAgeMs, batch, budgetMs } = this.retention;
    const walPath = `${this.path}-wal`;
    const walBytesBefore = fileSize(walPath);
    const newestSeq = this.newestSeq();
    const countCut = newestSeq - maxEvents;
    const ageCut = now - maxAgeMs;
    const expired = (r: { seq: number; at: number }) => r.seq <= countCut || r.at < ageCut;
    const oldest = this.sqlite.query<{ seq: number; at: number }, [number]>("SELECT seq, at FROM events ORDER BY seq LIMIT ?");
    const cut = this.sqlite.query<never, [number]>("DELETE FROM events WHERE seq <= ?");
    let deleted = 0;
    let more = false;
    for (;;) {
      // The expired prefix of the oldest `batch` events.
      const head = oldest.all(batch);
      let upto = -1;
      for (const r of head) {
        if (!expired(r)) break;
        upto = r.seq;
      }
      if (upto < 0) break;
      deleted += cut.run(upto).changes;
      more = upto === head[head.length - 1]!.seq && head.length === batch;
      if (!more || performance.now() - started >= budgetMs) break;
    }
    if (more) {
      const next = oldest.get(1);
      more = next !== null && expired(next);
    }
    const checkpoint = this.checkpoint();
    const pageSize = this.pragma("page_size");
    return {
      deleted,
      more,
      oldestSeq: this.oldestSeq(),
      newestSeq,
      walBytesBefore,
      walBytesAfter: fileSize(walPath),
      checkpointBlocked: checkpoint.busy !== 0 || checkpoint.log !== checkpoint.checkpointed,
      dbBytes: fileSize(this.path),
      freeBytes: this.pragma("freelist_count") * pageSize,
      ms: +(performance.now() - started).toFixed(2),
    };
  }

  /**
   * A small write in a transaction of its own: succeeds once the store can take writes again
   * (space came back, the file became writable). Throws what SQLite said otherwise.
   */
  probe(now: number): void {
    this.sqlite.transaction(() => this.statements.upsertMeta({ key: "probed_at", value: String(now) }))();
  }

  /** Checkpoints and truncates the WAL without waiting for other connections. */
  private checkpoint(): { busy: number; log: number; checkpointed: number } {
    this.sqlite.exec("PRAGMA busy_timeout = 0");
    try {
      return this.sqlite.query<{ busy: number; log: number; checkpointed: number }, []>("PRAGMA wal_checkpoint(TRUNCATE)").get()!;
    } finally {
      this.sqlite.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }

  private pragma(name: "page_size" | "freelist_count"): number {
    return Object.values(this.sqlite.query(`PRAGMA ${name}`).get() as Record<string, number>)[0] ?? 0;
  }

  /**
   * The oldest sequence number the log still holds (0 when it is empty). A Watch resuming
   * after a sequence number below `oldestSeq() - 1` has missed events that retention dropped.
   */
  oldestSeq(): number {
    return this.sqlite.query<{ seq: number | null }, []>("SELECT MIN(seq) AS seq FROM events").get()?.seq ?? 0;
  }

  /** The newest sequence number ever assigned, even if retention has since dropped it (0: none). */
  newestSeq(): number {
    return this.sqlite.query<{ seq: number | null }, []>("SELECT seq FROM sqlite_sequence WHERE name = 'events'").get()?.seq ?? 0;
  }

  close(): void {
    this.sqlite.close();
  }

  /**
   * SQLite's quick_check: undefined when the file is sound, else what is wrong. A truncated
   * file opens and migrates without complaint and fails only when a lost page is read; this
   * reads them all (about 30 ms for a 30 MB store) so that it fails on start instead.
   */
  damage(): string | undefined {
    const rows = this.sqlite.query<{ quick_check: string }, []>("PRAGMA quick_check").all();
    return rows.length === 1 && rows[0]!.quick_check === "ok" ? undefined : rows.map((r) => r.quick_check).join("; ");
  }

  /** The id of the cluster this database belongs to (see core/cluster-identity.ts), if recorded. */
  clusterId(): string | undefined {
    return this.db.select().from(schema.meta).where(eq(schema.meta.key, CLUSTER_ID_KEY)).get()?.value;
  }

  recordClusterId(id: string): void {
    this.statements.upsertMeta({ key: CLUSTER_ID_KEY, value: id });
  }

  /** Whether anything was ever recorded: a control plane ran on this database. */
  hasState(): boolean {
    const tables = [schema.events, schema.workloads, schema.instances, schema.nodes, schema.tokens, schema.meta];
    return tables.some((t) => this.db.select({ one: sql`1` }).from(t).limit(1).get() !== undefined);
  }

  /**
   * Rebuilds the state from the derived tables, through the core (restoreState). Nodes start
   * disconnected with the last heartbeat their row recorded; the writer's first turn records
   * ListeningStarted, from which their silence is judged again (node-health.ts).
   */
  load(): ClusterState {
    const workloads = this.db
      .select()
      .from(schema.workloads)
      .all()
      .map((w) => ({
        name: w.name,
        labels: w.labels,
        spec: WireSpec.fromJSON(w.spec),
        generation: w.generation,
        templateGeneration: w.templateGeneration,
        restartSeq: w.restartSeq,
        templateChangedAt: w.templateChangedAt,
        previousSpec: w.previousSpec === null ? null : WireSpec.fromJSON(w.previousSpec),
        deleting: w.deleting,
        createdAt: w.createdAt,
      }));
    const instances = this.db
      .select()
      .from(schema.instances)
      .all()
      .map((i) => ({
        id: i.id,
        name: instanceName(i.workload, i.index),
        workload: i.workload,
        index: i.index,
        generation: i.generation,
        node: i.node,
        desired: i.desired,
        state: i.state as InstanceState,
        attempt: i.attempt,
        resources: { cpuMillis: i.cpuMillis, memoryMb: i.memoryMb },
        readinessChecks: i.readinessChecks,
        passing: i.passing,
        reason: i.reason,
        exitCode: i.exitCode,
        failedAt: i.failedAt,
        runningSince: i.runningSince,
        updatedAt: i.updatedAt,
      }));
    const nodes = this.db
      .select()
      .from(schema.nodes)
      .all()
      .map((n) => ({
        name: n.name,
        executors: n.executors,
        version: n.version,
        labels: n.labels,
        capacity: { cpuMillis: n.cpuMillis, memoryMb: n.memoryMb },
        health: n.health,
        schedulable: n.schedulable,
        draining: n.draining,
        connected: false,
        session: 0,
        lastHeartbeatAt: n.lastHeartbeatAt,
      }));
    const seq = this.db.select().from(schema.meta).where(eq(schema.meta.key, "next_instance_seq")).get();
    const placedNow = new Map(instances.map((i) => [i.id, i.node]));
    const tokens = this.sqlite.query<{ hash: string; kind: TokenKind }, []>("SELECT hash, role AS kind FROM tokens WHERE revoked_at IS NULL").all();
    return restoreState({ workloads, instances, nodes, nextInstanceSeq: seq ? Number(seq.value) : 1, failures: this.failures(placedNow), tokens });
  }

  /**
   * Recent failures (for crash-loop quarantine) from the log, in log order: a failure counts
   * against the node the instance was last placed on. When retention dropped that placement,
   * the instance's row (`placedNow`) still names its node if it exists.
   */
  private failures(placedNow: ReadonlyMap<string, string | null>): StoredState["failures"] {
    const rows = this.sqlite
      .query<{ instance: string; node: string | null; at: number }, []>(
        `SELECT instance, node, at FROM events WHERE type = 'InstanceTransitioned'
           AND (node IS NOT NULL OR json_extract(data, '$.event.type') = 'fail') ORDER BY seq`,
      )
      .all();
    const placedOn = new Map<string, string>();
    const out: StoredState["failures"] = [];
    for (const r of rows) {
      if (r.node !== null) {
        placedOn.set(r.instance, r.node);
        continue;
      }
      const node = placedOn.get(r.instance) ?? placedNow.get(r.instance) ?? null;
      if (node !== null) out.push({ workload: workloadOfInstanceId(r.instance), node, at: r.at });
    }
    return out;
  }

  /**
   * Appends the events (volatile ones excepted) and rewrites every row they touched from
   * `state`, which must already have them applied. One transaction.
   */
  commit(events: ClusterEvent[], state: ClusterState): StoredEvent[] {
    const logged = events.filter((e) => !isVolatile(e));
    const stored: StoredEvent[] = [];
    const workloadKeys = new Set<string>();
    const instanceKeys = new Set<string>();
    const nodeKeys = new Set<string>();
    /** Token kinds whose active set changed, with when. */
    const tokenKinds = new Map<TokenKind, number>();
    // Nor are the rows only volatile events changed: a node's heartbeat time is written with
    // its next logged change.
    for (const e of logged) {
      const t = touches(e);
      if (t.workload) workloadKeys.add(t.workload);
      if (t.instance) instanceKeys.add(t.instance);
      if (t.node) nodeKeys.add(t.node);
      if (t.tokens) tokenKinds.set(t.tokens, e.at);
    }
    const w = this.statements;
    this.sqlite.transaction(() => {
      for (const e of logged) {
        const t = touches(e);
        const row = {
          at: e.at,
          version: EVENT_VERSION,
          type: e.type,
          workload: t.workload ?? (t.instance ? workloadOfInstanceId(t.instance) : null),
          instance: t.instance ?? null,
          node: t.node ?? (e.type === "InstanceTransitioned" && e.event.type === "place" ? e.event.node : null),
          data: JSON.stringify(e),
        };
        const seq = Number(w.appendEvent(row).lastInsertRowid);
        stored.push({ seq, workload: row.workload, instance: row.instance, node: row.node, event: e });
      }
      for (const name of workloadKeys) {
        const wl = state.workloads.get(name);
        if (!wl) {
          w.deleteWorkload({ name });
          continue;
        }
        w.upsertWorkload({ ...wl, spec: WireSpec.toJSON(wl.spec), previousSpec: wl.previousSpec === null ? null : WireSpec.toJSON(wl.previousSpec) });
      }
      for (const id of instanceKeys) {
        const i = state.instances.get(id);
        if (!i) {
          w.deleteInstance({ id });
          continue;
        }
        w.upsertInstance({
          id: i.id,
          workload: i.workload,
          index: i.index,
          generation: i.generation,
          node: i.node,
          desired: i.desired,
          state: i.state,
          attempt: i.attempt,
          cpuMillis: i.resources.cpuMillis,
          memoryMb: i.resources.memoryMb,
          readinessChecks: i.readinessChecks,
          passing: i.passing,
          reason: i.reason,
          exitCode: i.exitCode,
          failedAt: i.failedAt,
          runningSince: i.runningSince,
          updatedAt: i.updatedAt,
        });
      }
      for (const name of nodeKeys) {
        const n = state.nodes.get(name);
        if (!n) continue;
        w.upsertNode({
          name: n.name,
          executors: n.executors,
          version: n.version,
          lastHeartbeatAt: n.lastHeartbeatAt,
          labels: n.labels,
          cpuMillis: n.capacity.cpuMillis,
          memoryMb: n.capacity.memoryMb,
          health: n.health,
          schedulable: n.schedulable,
          draining: n.draining,
        });
      }
      for (const [kind, at] of tokenKinds) {
        const active = [...state.tokens].filter(([, k]) => k === kind).map(([hash]) => hash);
        // Rows of the kind no longer active are revoked; active ones are there (once).
        this.sqlite
          .query(`UPDATE tokens SET revoked_at = ? WHERE role = ? AND revoked_at IS NULL AND hash NOT IN (SELECT value FROM json_each(?))`)
          .run(at, kind, JSON.stringify(active));
        for (const hash of active) {
          this.sqlite
            .query("INSERT INTO tokens (role, hash, created_at) VALUES (?, ?, ?) ON CONFLICT (hash) DO UPDATE SET role = excluded.role, revoked_at = NULL")
            .run(kind, hash, at);
        }
      }
      if (instanceKeys.size > 0) w.upsertMeta({ key: "next_instance_seq", value: String(state.nextInstanceSeq) });
    })();
    return stored;
  }

  /** The most recent `limit` events about a workload (0: all retained), oldest first. */
  recentEvents(workload: string, limit: number): StoredEvent[] {
    const q = this.db.select().from(schema.events).where(eq(schema.events.workload, workload)).orderBy(desc(schema.events.seq));
    return (limit > 0 ? q.limit(limit) : q).all().reverse().map(toStored);
  }

  /**
   * Where a workload's last `limit` events start: the sequence number just before them (0 when
   * there are no more than `limit`, or when `limit` is 0, meaning all).
   */
  historyStart(workload: string, limit: number): number {
    if (limit === 0) return 0;
    const before = this.db.select({ seq: schema.events.seq }).from(schema.events).where(eq(schema.events.workload, workload)).orderBy(desc(schema.events.seq)).limit(1).offset(limit).get();
    return before?.seq ?? 0;
  }

  /** Up to `limit` events after a sequence number, oldest first; optionally of one workload. */
  eventsAfter(seq: number, limit: number, workload?: string): StoredEvent[] {
    const cond = workload ? and(gt(schema.events.seq, seq), eq(schema.events.workload, workload)) : gt(schema.events.seq, seq);
    return this.db.select().from(schema.events).where(cond).orderBy(asc(schema.events.seq)).limit(limit).all().map(toStored);
  }

}
