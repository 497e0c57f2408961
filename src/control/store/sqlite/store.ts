/**
 * The control plane's default store (store.ts's Store): drizzle-orm over bun:sqlite in WAL
 * mode, in the data dir. bun:sqlite is synchronous: each method has done its work when it
 * returns its promise, so a commit is on disk in the same turn of the event loop.
 */
import { Database } from "bun:sqlite";
import { chmodSync, closeSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { eq, sql } from "drizzle-orm";
import { type BunSQLiteDatabase, drizzle } from "drizzle-orm/bun-sqlite";
import type { ClusterEvent } from "../../../core/events/cluster-events.js";
import { restoreState } from "../../../core/events/stored-state.js";
import type { ClusterState, TokenKind } from "../../../core/model/cluster-state.js";
import { embeddedMigrations } from "../embedded-migrations.js" with { type: "macro" };
import { AUTO_CHECKPOINT_PAGES, maintain, type SqliteMaintenanceStats, WAL_SIZE_LIMIT } from "./maintenance.js";
import { DEFAULT_RETENTION, type Retention } from "../retention.js";
import { instanceFromRow, LISTENING_SINCE_KEY, nodeFromRow, type StoredEvent, workloadFromRow } from "../rows.js";
import * as schema from "./schema.js";
import { SqliteEventHistory } from "./history.js";
import { prepareWrites, type Writes } from "./statements.js";
import type { Store, StoreSupport } from "../store.js";
import { takeSqliteSnapshot } from "../snapshot-file.js";
import { turnWrites } from "../turn-writes.js";
import { secretsFromRows, secretToRows } from "../secret-rows.js";

/** The meta row holding the cluster's id. */
const CLUSTER_ID_KEY = "cluster_id";

/** How long a statement waits for another connection's lock before failing. */
const BUSY_TIMEOUT_MS = 5_000;

export class SqliteStore implements Store {
  readonly sqlite: Database;
  readonly history: SqliteEventHistory;
  private readonly db: BunSQLiteDatabase<typeof schema>;
  private readonly statements: Writes;

  private readonly retention: Retention;
  /** The database file. */
  readonly path: string;
  readonly location: string;
  /** Snapshots of the data dir's database; no lease, no shared CA (one control plane per file). */
  readonly supports: StoreSupport;

  constructor(dataDir: string, retention: Partial<Retention> = {}) {
    this.supports = { snapshot: (now) => takeSqliteSnapshot(dataDir, now) };
    this.retention = { ...DEFAULT_RETENTION, ...retention };
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.path = join(dataDir, "tessera.db");
    this.location = this.path;
    // The owner's only, as its WAL and shared-memory files then are (SQLite gives them the database's mode).
    closeSync(openSync(this.path, "a", 0o600));
    chmodSync(this.path, 0o600);
    this.sqlite = new Database(this.path, { create: true, strict: true });
    this.sqlite.exec("PRAGMA journal_mode = WAL");
    // NORMAL in WAL mode: a commit survives a process crash (kill -9: the WAL is in the OS's
    // page cache and recovered on the next open; see store-churn.test.ts); only an OS crash
    // or power loss can lose the last transactions, and never corrupts the file (the WAL is
    // fsynced at each checkpoint). FULL would fsync on every turn of the writer.
    this.sqlite.exec("PRAGMA synchronous = NORMAL");
    this.sqlite.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // Checkpoints every 64 MiB of WAL rather than 4, and the file is cut back to that size after one.
    this.sqlite.exec(`PRAGMA wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    this.sqlite.exec(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT}`);
    this.db = drizzle(this.sqlite, { schema });
    // The dialect's migrator is what drizzle's folder migrator calls after reading the files.
    (this.db as unknown as { dialect: { migrate: (m: unknown, s: unknown, c: unknown) => void }; session: unknown }).dialect.migrate(
      embeddedMigrations("sqlite/migrations"),
      (this.db as unknown as { session: unknown }).session,
      { migrationsFolder: "embedded" },
    );
    this.statements = prepareWrites(this.sqlite, this.db);
    this.history = new SqliteEventHistory(this.sqlite, this.db);
  }

  /** Trims the event log to the retention and checkpoints the WAL (maintenance.ts). */
  async maintain(now: number): Promise<SqliteMaintenanceStats> {
    return maintain(this.sqlite, this.path, this.history, this.retention, now);
  }

  /** Succeeds once space came back or the file became writable; rejects with what SQLite said otherwise. */
  async probe(now: number): Promise<void> {
    this.sqlite.transaction(() => this.statements.upsertMeta({ key: "probed_at", value: String(now) }))();
  }

  async close(): Promise<void> {
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

  async clusterId(): Promise<string | undefined> {
    return this.db.select().from(schema.meta).where(eq(schema.meta.key, CLUSTER_ID_KEY)).get()?.value;
  }

  async recordClusterId(id: string): Promise<void> {
    this.statements.upsertMeta({ key: CLUSTER_ID_KEY, value: id });
  }

  async hasState(): Promise<boolean> {
    const tables = [schema.events, schema.workloads, schema.instances, schema.nodes, schema.tokens, schema.nodeIdentities, schema.secretVersions, schema.meta];
    return tables.some((t) => this.db.select({ one: sql`1` }).from(t).limit(1).get() !== undefined);
  }

  /**
   * Rebuilds the state from the derived tables, through the core (restoreState). Nodes start
   * disconnected with the last heartbeat their row recorded; the writer's first turn records
   * ListeningStarted, from which their silence is judged again (node-health.ts).
   */
  async load(): Promise<ClusterState> {
    const workloads = this.db.select().from(schema.workloads).all().map(workloadFromRow);
    const instances = this.db.select().from(schema.instances).all().map(instanceFromRow);
    const nodes = this.db.select().from(schema.nodes).all().map(nodeFromRow);
    const seq = this.db.select().from(schema.meta).where(eq(schema.meta.key, "next_instance_seq")).get();
    const listening = this.db.select().from(schema.meta).where(eq(schema.meta.key, LISTENING_SINCE_KEY)).get();
    const placedNow = new Map(instances.map((i) => [i.id, i.node]));
    const tokens = this.sqlite
      .query<{ hash: string; kind: TokenKind; createdAt: number; expiresAt: number | null; usesLeft: number | null }, []>(
        "SELECT hash, role AS kind, created_at AS createdAt, expires_at AS expiresAt, uses_left AS usesLeft FROM tokens WHERE revoked_at IS NULL",
      )
      .all();
    const nodeIdentities = this.db.select().from(schema.nodeIdentities).all();
    const secrets = secretsFromRows(this.db.select().from(schema.secretVersions).all());
    return restoreState({ workloads, instances, nodes, nextInstanceSeq: seq ? Number(seq.value) : 1, failures: this.history.failures(placedNow), tokens, nodeIdentities, listeningSince: listening ? Number(listening.value) : undefined, secrets });
  }

  async commit(events: ClusterEvent[], state: ClusterState): Promise<StoredEvent[]> {
    const writes = turnWrites(events, state);
    const stored: StoredEvent[] = [];
    const w = this.statements;
    this.sqlite.transaction(() => {
      const seqs = w.appendEvents(writes.events.map((e) => e.row));
      writes.events.forEach(({ event, row }, i) => stored.push({ seq: seqs[i]!, workload: row.workload, instance: row.instance, node: row.node, event }));
      w.upsertWorkloads(writes.workloads.upsert);
      for (const name of writes.workloads.delete) w.deleteWorkload({ name });
      w.upsertInstances(writes.instances.upsert);
      for (const id of writes.instances.delete) w.deleteInstance({ id });
      w.upsertNodes(writes.nodes);
      for (const { kind, at, active } of writes.tokens) {
        // Rows of the kind no longer active are revoked; active ones are there (once).
        this.sqlite
          .query(`UPDATE tokens SET revoked_at = ? WHERE role = ? AND revoked_at IS NULL AND hash NOT IN (SELECT value FROM json_each(?))`)
          .run(at, kind, JSON.stringify(active.map((t) => t.hash)));
        for (const t of active) {
          this.sqlite
            .query(
              "INSERT INTO tokens (role, hash, created_at, expires_at, uses_left) VALUES (?, ?, ?, ?, ?) ON CONFLICT (hash) DO UPDATE SET role = excluded.role, revoked_at = NULL, expires_at = excluded.expires_at, uses_left = excluded.uses_left",
            )
            .run(kind, t.hash, t.createdAt, t.expiresAt, t.usesLeft);
        }
      }
      for (const row of writes.identities) this.db.insert(schema.nodeIdentities).values(row).onConflictDoUpdate({ target: schema.nodeIdentities.node, set: row }).run();
      for (const { kind, name, record } of writes.secrets) {
        // Every kept version is rewritten: versions past versionsKept go, with their values.
        this.sqlite.query("DELETE FROM secret_versions WHERE kind = ? AND name = ?").run(kind, name);
        if (record) for (const row of secretToRows(record)) this.db.insert(schema.secretVersions).values(row).run();
      }
      if (writes.nextInstanceSeq !== undefined) w.upsertMeta({ key: "next_instance_seq", value: String(writes.nextInstanceSeq) });
      if (writes.listeningSince !== undefined) w.upsertMeta({ key: LISTENING_SINCE_KEY, value: String(writes.listeningSince) });
    })();
    return stored;
  }
}
