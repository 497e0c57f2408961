/**
 * The control plane's durable store: drizzle-orm over bun:sqlite in WAL mode.
 * Only the writer loop calls `commit`; one call is one SQLite transaction holding a turn's
 * events and the rows they changed.
 */
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { and, asc, desc, eq, gt } from "drizzle-orm";
import { type BunSQLiteDatabase, drizzle } from "drizzle-orm/bun-sqlite";
import { WorkloadSpec as WireSpec } from "../../gen/tessera/v1/types.js";
import type { InstanceState } from "../../core/instance-machine.js";
import { type ClusterEvent, type ClusterState, EVENT_VERSION, emptyState, isVolatile, recordCrash, workloadOfInstanceId } from "../../core/model.js";
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

/** The entity keys an event touches, so a commit rewrites exactly those rows. */
function touched(event: ClusterEvent): { workload?: string; instance?: string; node?: string } {
  switch (event.type) {
    case "WorkloadApplied":
      return { workload: event.workload.name };
    case "WorkloadDeleteRequested":
    case "WorkloadRemoved":
    case "WorkloadRestartRequested":
      return { workload: event.name };
    case "InstanceCreated":
      return { workload: event.workload, instance: event.id };
    case "InstanceTransitioned":
    case "InstanceRemoved":
    case "InstanceCheckReported":
      return { instance: event.id };
    case "NodeConnected":
    case "NodeDisconnected":
    case "NodeHeartbeatReceived":
    case "NodeHealthChanged":
    case "NodeCordoned":
    case "NodeUncordoned":
    case "NodeDrainStarted":
      return { node: event.name };
  }
}

export interface Retention {
  /** Events kept at most (the newest). */
  maxEvents: number;
  /** Events older than this are dropped. */
  maxAgeMs: number;
  /** Events deleted per maintain() call at most. */
  batch: number;
}

export const DEFAULT_RETENTION: Retention = { maxEvents: 200_000, maxAgeMs: 7 * 86_400_000, batch: 50_000 };

/** The WAL is truncated back to this after checkpoints. */
const WAL_SIZE_LIMIT = 64 * 1024 * 1024;

/** Rows per INSERT: 8 columns each, far below SQLite's variable limit. */
const INSERT_SLICE = 500;

function toStored(r: typeof schema.events.$inferSelect): StoredEvent {
  return { seq: r.seq, workload: r.workload, instance: r.instance, node: r.node, event: JSON.parse(r.data) as ClusterEvent };
}

export class Store {
  readonly sqlite: Database;
  private readonly db: BunSQLiteDatabase<typeof schema>;

  private readonly retention: Retention;
  /** The database file. */
  readonly path: string;

  constructor(dataDir: string, retention: Partial<Retention> = {}) {
    this.retention = { ...DEFAULT_RETENTION, ...retention };
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.path = join(dataDir, "tessera.db");
    this.sqlite = new Database(this.path, { create: true, strict: true });
    this.sqlite.exec("PRAGMA journal_mode = WAL");
    // NORMAL in WAL mode: a commit survives a process crash (kill -9); only an OS crash or
    // power loss can lose the last transactions. FULL would fsync every turn.
    this.sqlite.exec("PRAGMA synchronous = NORMAL");
    this.sqlite.exec("PRAGMA busy_timeout = 5000");
    // After a checkpoint the WAL file is cut back to this size instead of keeping its peak.
    this.sqlite.exec(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT}`);
    this.db = drizzle(this.sqlite, { schema });
    // The dialect's migrator is what drizzle's folder migrator calls after reading the files.
    (this.db as unknown as { dialect: { migrate: (m: unknown, s: unknown, c: unknown) => void }; session: unknown }).dialect.migrate(
      embeddedMigrations(),
      (this.db as unknown as { session: unknown }).session,
      { migrationsFolder: "embedded" },
    );
  }

  /**
   * Keeps the store bounded under endless churn: drops the oldest events beyond the
   * retention (count and age; history is bounded, derived tables are not touched), then
   * checkpoints the WAL and truncates it. Freed pages are reused by later inserts, so the
   * database file stops growing once the log is at its cap. The writer calls this between
   * turns; each call deletes at most `batch` events so it stays short.
   */
  maintain(now: number): { deleted: number; walBytes: number; ms: number } {
    const started = performance.now();
    const { maxEvents, maxAgeMs, batch } = this.retention;
    const newest = this.sqlite.query<{ seq: number | null }, []>("SELECT MAX(seq) AS seq FROM events").get()?.seq ?? 0;
    const deleted = this.sqlite
      .query("DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= ? OR at < ? ORDER BY seq LIMIT ?)")
      .run(newest - maxEvents, now - maxAgeMs, batch).changes;
    this.sqlite.query("PRAGMA wal_checkpoint(TRUNCATE)").get();
    const walBytes = existsSync(`${this.path}-wal`) ? statSync(`${this.path}-wal`).size : 0;
    return { deleted, walBytes, ms: +(performance.now() - started).toFixed(2) };
  }

  close(): void {
    this.sqlite.close();
  }

  /**
   * Rebuilds the state from the derived tables. Nodes start disconnected (no stream is open
   * yet) with their last heartbeat set to `now`: agents get the full Offline threshold to
   * reconnect before their instances are declared lost.
   */
  load(now: number): ClusterState {
    const state = emptyState();
    for (const w of this.db.select().from(schema.workloads).all()) {
      state.workloads.set(w.name, {
        name: w.name,
        labels: w.labels,
        spec: WireSpec.fromJSON(w.spec),
        generation: w.generation,
        templateGeneration: w.templateGeneration,
        restartSeq: w.restartSeq,
        deleting: w.deleting,
        createdAt: w.createdAt,
      });
    }
    for (const i of this.db.select().from(schema.instances).all()) {
      state.instances.set(i.id, {
        id: i.id,
        name: `${i.workload}-${i.index}`,
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
      });
    }
    for (const n of this.db.select().from(schema.nodes).all()) {
      state.nodes.set(n.name, {
        name: n.name,
        executors: n.executors,
        version: n.version,
        labels: n.labels,
        capacity: { cpuMillis: n.cpuMillis, memoryMb: n.memoryMb },
        health: n.health,
        schedulable: n.schedulable,
        draining: n.draining,
        // No stream is open yet; the agent's hello reconnects it.
        connected: false,
        session: 0,
        lastHeartbeatAt: now,
      });
    }
    const seq = this.db.select().from(schema.meta).where(eq(schema.meta.key, "next_instance_seq")).get();
    state.nextInstanceSeq = seq ? Number(seq.value) : 1;
    this.loadCrashes(state);
    return state;
  }

  /** Rebuilds recent failure history (for crash-loop quarantine) from the log. */
  private loadCrashes(state: ClusterState): void {
    const rows = this.sqlite
      .query<{ instance: string; node: string | null; at: number }, []>(
        `SELECT f.instance, (SELECT p.node FROM events p WHERE p.instance = f.instance AND p.node IS NOT NULL ORDER BY p.seq DESC LIMIT 1) AS node, f.at
         FROM events f WHERE f.type = 'InstanceTransitioned' AND json_extract(f.data, '$.event.type') = 'fail' ORDER BY f.seq`,
      )
      .all();
    for (const r of rows) {
      if (r.node === null) continue;
      recordCrash(state, workloadOfInstanceId(r.instance), r.node, r.at);
    }
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
    for (const e of events) {
      const t = touched(e);
      if (t.workload) workloadKeys.add(t.workload);
      if (t.instance) instanceKeys.add(t.instance);
      if (t.node && e.type !== "NodeHeartbeatReceived") nodeKeys.add(t.node);
    }
    this.db.transaction((tx) => {
      const rows = logged.map((e) => {
        const t = touched(e);
        return {
          at: e.at,
          version: EVENT_VERSION,
          type: e.type,
          workload: t.workload ?? (t.instance ? workloadOfInstanceId(t.instance) : null),
          instance: t.instance ?? null,
          node: t.node ?? (e.type === "InstanceTransitioned" && e.event.type === "place" ? e.event.node : null),
          data: JSON.stringify(e),
        };
      });
      // SQLite caps the variables of one statement: insert in slices.
      for (let k = 0; k < rows.length; k += INSERT_SLICE) {
        const slice = rows.slice(k, k + INSERT_SLICE);
        const seqs = tx.insert(schema.events).values(slice).returning({ seq: schema.events.seq }).all();
        seqs.forEach((r, n) => {
          const row = slice[n]!;
          stored.push({ seq: r.seq, workload: row.workload, instance: row.instance, node: row.node, event: logged[k + n]! });
        });
      }
      for (const name of workloadKeys) {
        const w = state.workloads.get(name);
        if (!w) {
          tx.delete(schema.workloads).where(eq(schema.workloads.name, name)).run();
          continue;
        }
        const row = { ...w, spec: WireSpec.toJSON(w.spec) };
        tx.insert(schema.workloads).values(row).onConflictDoUpdate({ target: schema.workloads.name, set: row }).run();
      }
      for (const id of instanceKeys) {
        const i = state.instances.get(id);
        if (!i) {
          tx.delete(schema.instances).where(eq(schema.instances.id, id)).run();
          continue;
        }
        const row = {
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
        };
        tx.insert(schema.instances).values(row).onConflictDoUpdate({ target: schema.instances.id, set: row }).run();
      }
      for (const name of nodeKeys) {
        const n = state.nodes.get(name);
        if (!n) continue;
        const row = {
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
        };
        tx.insert(schema.nodes).values(row).onConflictDoUpdate({ target: schema.nodes.name, set: row }).run();
      }
      if (instanceKeys.size > 0) {
        const row = { key: "next_instance_seq", value: String(state.nextInstanceSeq) };
        tx.insert(schema.meta).values(row).onConflictDoUpdate({ target: schema.meta.key, set: row }).run();
      }
    });
    return stored;
  }

  /** The most recent `limit` events about a workload (0: all retained), oldest first. */
  recentEvents(workload: string, limit: number): StoredEvent[] {
    const q = this.db.select().from(schema.events).where(eq(schema.events.workload, workload)).orderBy(desc(schema.events.seq));
    return (limit > 0 ? q.limit(limit) : q).all().reverse().map(toStored);
  }

  /** Up to `limit` events after a sequence number, oldest first; optionally of one workload. */
  eventsAfter(seq: number, limit: number, workload?: string): StoredEvent[] {
    const cond = workload ? and(gt(schema.events.seq, seq), eq(schema.events.workload, workload)) : gt(schema.events.seq, seq);
    return this.db.select().from(schema.events).where(cond).orderBy(asc(schema.events.seq)).limit(limit).all().map(toStored);
  }

}
