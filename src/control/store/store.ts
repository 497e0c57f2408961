/**
 * The control plane's durable store: drizzle-orm over bun:sqlite in WAL mode.
 * Only the writer loop calls `commit`; one call is one SQLite transaction holding a turn's
 * events and the rows they changed. `load` reads those rows back into a state.
 */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { eq, sql } from "drizzle-orm";
import { type BunSQLiteDatabase, drizzle } from "drizzle-orm/bun-sqlite";
import { type ClusterEvent, isVolatile, restoreState } from "../../core/cluster-events.js";
import type { ClusterState, TokenKind } from "../../core/cluster-state.js";
import { touches } from "../../core/event-facts.js";
import { embeddedMigrations } from "./embedded-migrations.js" with { type: "macro" };
import { EventHistory } from "./event-history.js";
import { DEFAULT_RETENTION, type MaintenanceStats, maintain, type Retention, WAL_SIZE_LIMIT } from "./maintenance.js";
import { eventToRow, instanceFromRow, instanceToRow, nodeFromRow, nodeToRow, type StoredEvent, workloadFromRow, workloadToRow } from "./rows.js";
import * as schema from "./schema.js";
import { prepareWrites, type Writes } from "./statements.js";

/** The meta row holding the cluster's id. */
const CLUSTER_ID_KEY = "cluster_id";

/** How long a statement waits for another connection's lock before failing. */
const BUSY_TIMEOUT_MS = 5_000;

export class Store {
  readonly sqlite: Database;
  /** The event log's reads (describe, GetHistory, Watch). */
  readonly history: EventHistory;
  private readonly db: BunSQLiteDatabase<typeof schema>;
  private readonly statements: Writes;

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
    this.history = new EventHistory(this.sqlite, this.db);
  }

  /** Trims the event log to the retention and checkpoints the WAL (maintenance.ts). */
  maintain(now: number): MaintenanceStats {
    return maintain(this.sqlite, this.path, this.history, this.retention, now);
  }

  /**
   * A small write in a transaction of its own: succeeds once the store can take writes again
   * (space came back, the file became writable). Throws what SQLite said otherwise.
   */
  probe(now: number): void {
    this.sqlite.transaction(() => this.statements.upsertMeta({ key: "probed_at", value: String(now) }))();
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
    const workloads = this.db.select().from(schema.workloads).all().map(workloadFromRow);
    const instances = this.db.select().from(schema.instances).all().map(instanceFromRow);
    const nodes = this.db.select().from(schema.nodes).all().map(nodeFromRow);
    const seq = this.db.select().from(schema.meta).where(eq(schema.meta.key, "next_instance_seq")).get();
    const placedNow = new Map(instances.map((i) => [i.id, i.node]));
    const tokens = this.sqlite.query<{ hash: string; kind: TokenKind }, []>("SELECT hash, role AS kind FROM tokens WHERE revoked_at IS NULL").all();
    return restoreState({ workloads, instances, nodes, nextInstanceSeq: seq ? Number(seq.value) : 1, failures: this.history.failures(placedNow), tokens });
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
        const row = eventToRow(e);
        const seq = Number(w.appendEvent(row).lastInsertRowid);
        stored.push({ seq, workload: row.workload, instance: row.instance, node: row.node, event: e });
      }
      for (const name of workloadKeys) {
        const wl = state.workloads.get(name);
        if (wl) w.upsertWorkload(workloadToRow(wl));
        else w.deleteWorkload({ name });
      }
      for (const id of instanceKeys) {
        const i = state.instances.get(id);
        if (i) w.upsertInstance(instanceToRow(i));
        else w.deleteInstance({ id });
      }
      for (const name of nodeKeys) {
        const n = state.nodes.get(name);
        if (n) w.upsertNode(nodeToRow(n));
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
}
