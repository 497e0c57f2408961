/**
 * The control plane's store on PostgreSQL (store.ts's Store, `--store postgres://…`):
 * drizzle-orm over Bun's built-in client, a bounded pool of prepared-statement connections.
 * A commit is one transaction of one statement per table and kind of write, whatever the
 * number of rows (recordset.ts), sent with its BEGIN and COMMIT in one round trip: on loopback
 * a round trip costs about as much as writing a thousand rows in one.
 */
import { type ReservedSQL, SQL } from "bun";
import { eq, isNull, type SQL as Statement, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/bun-sql";
import { PgDialect, type PgTable } from "drizzle-orm/pg-core";
import type { ClusterEvent } from "../../../core/events/cluster-events.js";
import { dropAgentStreams, storedState } from "../../../core/events/stored-state.js";
import type { ClusterState, TokenKind } from "../../../core/model/cluster-state.js";
import type { SecretRecord } from "../../../core/model/secrets.js";
import { embeddedMigrations } from "../embedded-migrations.js" with { type: "macro" };
import { DEFAULT_RETENTION, type Retention } from "../retention.js";
import { instanceFromRow, LISTENING_SINCE_KEY, nodeFromRow, type StoredEvent, workloadFromRow } from "../rows.js";
import type { ClusterCaStore, SharedDatabase, Store, StoreSupport } from "../store.js";
import { turnWrites } from "../turn-writes.js";
import { secretsFromRows } from "../secret-rows.js";
import { PostgresEventHistory, type PostgresDatabase } from "./history.js";
import { said } from "./unreachable.js";
import { type Fence, PostgresLease } from "./lease.js";
import { maintain, type PostgresMaintenanceStats } from "./maintenance.js";
import * as schema from "./schema.js";
import { exportSnapshot, importSnapshot } from "./snapshot.js";
import { abortedByFence, COMMITS_CHANNEL, fenceCheck, fenceOrAbort, turnStatements, upsertMeta } from "./turn-statements.js";

/** Connections at most: the writer's transaction, and readers (GetHistory, Watch, logs) beside it. */
const POOL_MAX = 4;
const CONNECT_TIMEOUT_S = 5;

/** The advisory lock migrations are run under (any constant: "tessera" in ASCII). */
const MIGRATION_LOCK = "7310020693061771617";

/** Renders drizzle's statements for a reserved connection (commit), as drizzle does for its own. */
const DIALECT = new PgDialect();

/** The meta row holding the cluster's id. */
const CLUSTER_ID_KEY = "cluster_id";

/** `url` without its password, for logs and refusals. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(not a URL)";
  }
}

/** Refuses what is not a postgres:// URL with a database, before any connection. */
export function checkUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error("expected postgres://USER@HOST:PORT/DB, got something that is not a URL");
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") throw new Error(`expected postgres://USER@HOST:PORT/DB, got a ${u.protocol}// URL`);
  if (u.hostname === "" || u.pathname.length <= 1) throw new Error("expected postgres://USER@HOST:PORT/DB: the host or the database is missing");
}

/**
 * A commit or probe refused because this control plane does not hold the lease in its epoch
 * (deposed, paused past its lease, partitioned): nothing of it was written.
 */
export class NotLeader extends Error {}

export class PostgresStore implements Store, SharedDatabase, ClusterCaStore {
  readonly history: PostgresEventHistory;
  readonly location: string;
  /** Control planes share the database (a lease, standbys), the cluster CA is kept in it, and its tables are exported in one snapshot. */
  readonly supports: StoreSupport = { lease: this, clusterCa: this, snapshot: (now) => this.said(() => exportSnapshot(this.db, now)) };
  private readonly retention: Retention;
  /** The lease every write is checked against; none: writes are refused (a standby). */
  private fence: Fence | undefined;
  /** Why writes are refused while there is no fence. */
  private unfenced = "this control plane does not hold the lease";

  private constructor(
    private readonly client: SQL,
    private readonly db: PostgresDatabase,
    /** With its password: the lease's connection is opened with it (openLease). */
    private readonly url: string,
    retention: Partial<Retention>,
  ) {
    this.location = redactUrl(url);
    this.retention = { ...DEFAULT_RETENTION, ...retention };
    this.history = new PostgresEventHistory(db, this.location);
  }

  /** Connects, migrates and reads the log's bounds; rejects with PostgreSQL's (or the client's) reason. */
  static async open(url: string, retention: Partial<Retention> = {}): Promise<PostgresStore> {
    checkUrl(url);
    const client = new SQL({ url, max: POOL_MAX, prepare: true, connectionTimeout: CONNECT_TIMEOUT_S });
    const db = drizzle({ client, schema });
    const store = new PostgresStore(client, db, url, retention);
    try {
      // Reached first, so that a refusal says PostgreSQL's reason, not a migration's query.
      await client`SELECT 1`;
      // Control planes started together on a fresh database would each create the tables and
      // all but one fail: they migrate one at a time, under a session lock on a connection of
      // its own (the migrator takes another from the pool).
      const locked = await client.reserve();
      try {
        await locked.unsafe(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
        // The dialect's migrator is what drizzle's folder migrator calls after reading the files.
        await (db as unknown as { dialect: { migrate: (m: unknown, s: unknown, c: unknown) => Promise<void> }; session: unknown }).dialect.migrate(
          embeddedMigrations("postgres/migrations"),
          (db as unknown as { session: unknown }).session,
          { migrationsFolder: "embedded" },
        );
      } finally {
        await locked.unsafe(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`).catch(() => {});
        locked.release();
      }
      await store.history.open();
    } catch (err) {
      await client.close();
      throw err;
    }
    return store;
  }

  async load(): Promise<ClusterState> {
    return dropAgentStreams((await this.loadWithSeq()).state);
  }

  /**
   * The state and the newest sequence number committed with it, read in ONE snapshot (a
   * REPEATABLE READ, READ ONLY transaction): a follower starts from it and folds the events
   * after `seq`, none missing or twice. It is the leader's state as committed, its agent
   * streams included (load, what a control plane leads from, drops them). Commits are serialized by the one writer and its fence,
   * so no event below the newest one seen can commit later.
   */
  loadWithSeq(): Promise<{ state: ClusterState; seq: number }> {
    return this.said(() => this.db.transaction((tx) => this.loadState(tx), { isolationLevel: "repeatable read", accessMode: "read only" }));
  }

  /** Every secret and config as stored, sealed values included (the log, which a standby folds, keeps none). */
  secrets(): Promise<SecretRecord[]> {
    return this.said(async () => secretsFromRows(await this.db.select().from(schema.secretVersions)));
  }

  private async loadState(tx: Pick<PostgresDatabase, "select">): Promise<{ state: ClusterState; seq: number }> {
    // One connection, one snapshot: the statements go one after another.
    const workloads = await tx.select().from(schema.workloads);
    const instances = await tx.select().from(schema.instances);
    const nodes = await tx.select().from(schema.nodes);
    const nextSeq = await tx.select().from(schema.meta).where(eq(schema.meta.key, "next_instance_seq"));
    const listening = await tx.select().from(schema.meta).where(eq(schema.meta.key, LISTENING_SINCE_KEY));
    const tokens = await tx
      .select({ hash: schema.tokens.hash, kind: schema.tokens.role, createdAt: schema.tokens.createdAt, expiresAt: schema.tokens.expiresAt, usesLeft: schema.tokens.usesLeft })
      .from(schema.tokens)
      .where(isNull(schema.tokens.revokedAt));
    const nodeIdentities = await tx.select().from(schema.nodeIdentities);
    const secrets = secretsFromRows(await tx.select().from(schema.secretVersions));
    const newest = await tx.select({ seq: sql<string | null>`MAX(${schema.events.seq})` }).from(schema.events);
    const restored = instances.map(instanceFromRow);
    const failures = await this.history.failures(new Map(restored.map((i) => [i.id, i.node])), tx);
    const state = storedState({
      workloads: workloads.map(workloadFromRow),
      instances: restored,
      nodes: nodes.map(nodeFromRow),
      nextInstanceSeq: nextSeq[0] ? Number(nextSeq[0].value) : 1,
      failures,
      tokens,
      nodeIdentities,
      secrets,
      listeningSince: listening[0] ? Number(listening[0].value) : undefined,
    });
    return { state, seq: Number(newest[0]?.seq ?? 0) };
  }

  /**
   * Hears every commit of the leader: `committed` gets the newest sequence number it wrote,
   * at its commit, in commit order (NOTIFY inside the commit's transaction). One connection of
   * its own, reconnected by the client with a backoff; `listening` runs each time the LISTEN is
   * acknowledged, initially and after a reconnect, when notifications may have been missed.
   * Resolves, once listening, with what stops it.
   */
  async followCommits(committed: (seq: number) => void, listening: () => void): Promise<() => Promise<void>> {
    const subscription = await this.said(() => this.client.listen(COMMITS_CHANNEL, (payload) => committed(Number(payload)), listening));
    return () => subscription.unlisten();
  }

  openLease(statementTimeoutMs: number): PostgresLease {
    return new PostgresLease(this.url, statementTimeoutMs);
  }

  /** From now on every write is checked against `fence` (the lease this control plane took), or refused (undefined). */
  fenceWith(fence: Fence | undefined, why?: string): void {
    this.fence = fence;
    this.unfenced = why ?? "this control plane does not hold the lease";
  }

  /** Runs a read or write, a database that cannot be reached said in words (describeDatabaseError). */
  private said<T>(run: () => Promise<T>): Promise<T> {
    return said(this.location, run);
  }

  /**
   * Inside a write's transaction, before its COMMIT: the lease must still be ours, in our
   * epoch, in force on the database's clock. FOR SHARE holds the row until the transaction
   * ends (whether the turn's rows were written before or after it in the transaction), so a take
   * (an UPDATE of it) waits for this commit: no write of an earlier epoch lands after a later
   * epoch has begun, and the new leader's load sees it.
   */
  private async checkFence(tx: Pick<PostgresDatabase, "execute">): Promise<Fence> {
    const fence = this.heldFence();
    this.refuseUnless(fence, await tx.execute(fenceCheck(fence)));
    return fence;
  }

  /** The fence commits are checked against; none: refused before anything is sent. */
  private heldFence(): Fence {
    if (this.fence === undefined) throw new NotLeader(`not the leader: ${this.unfenced}`);
    return this.fence;
  }

  /** What the fence's check found: no row, the lease is not ours in our epoch. */
  private refuseUnless(fence: Fence, held: unknown[]): void {
    if (held.length === 0) throw new NotLeader(`not the leader any more: the lease of epoch ${fence.epoch} is no longer this control plane's (taken over, or expired)`);
  }

  /**
   * One transaction in ONE round trip: BEGIN, the fence, the turn's statements, the NOTIFY and
   * the COMMIT sent together (the connection does not wait for each answer; they run in that
   * order). The fence aborts the transaction when the lease is not ours (fenceOrAbort), and so
   * does any statement that fails: the COMMIT then ends it as a ROLLBACK and nothing is written.
   * Everything is built before the first await (turn-statements.ts): the writer goes on deciding
   * turns meanwhile.
   */
  async commit(events: ClusterEvent[], state: ClusterState): Promise<StoredEvent[]> {
    const writes = turnWrites(events, state);
    const fence = this.heldFence();
    // Volatile events only (heartbeats): nothing to write, so no round trip.
    if (writes.events.length === 0) return [];
    const statements = [fenceOrAbort(fence), ...turnStatements(this.db, writes, fence)];
    const [, appended] = await this.said(() => this.inOneGo(statements, fence));
    // The sequence hands out numbers in the rows' order; sorted, they pair up with them.
    const seqs = (appended as Array<{ seq: string }>).map((r) => Number(r.seq)).sort((a, b) => a - b);
    const stored = writes.events.map(({ event, row }, i): StoredEvent => ({ seq: seqs[i]!, workload: row.workload, instance: row.instance, node: row.node, event }));
    this.history.advance(stored[stored.length - 1]!.seq);
    return stored;
  }

  /**
   * `statements` (the fence's first) between BEGIN and COMMIT on one connection, sent together;
   * their answers once committed. A refusal by the fence is what is said, not the aborted
   * transaction that follows from it.
   */
  private async inOneGo(statements: Statement[], fence: Fence): Promise<unknown[]> {
    const connection = await this.client.reserve();
    try {
      // Each is sent when then'd, in this order.
      const sent = [connection.unsafe("BEGIN").then((rows: unknown[]) => rows), ...statements.map((s) => this.run(connection, s)), connection.unsafe("COMMIT").then((r: { command?: string }) => r)];
      const results = await Promise.allSettled(sent);
      const fenced = results[1];
      if (fenced?.status === "rejected" && abortedByFence(fenced.reason)) this.refuseUnless(fence, []);
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
      const values = results.map((r) => (r as PromiseFulfilledResult<unknown>).value);
      // Ended as a ROLLBACK without any statement failing: never seen, but then nothing was written.
      if ((values.at(-1) as { command?: string }).command !== "COMMIT") throw new Error("the database rolled the turn's transaction back");
      return values.slice(1, -1);
    } catch (err) {
      // The transaction is over unless the COMMIT never reached the server (a broken connection): end it.
      await connection.unsafe("ROLLBACK").then(
        () => {},
        () => {},
      );
      throw err;
    } finally {
      connection.release();
    }
  }

  /** A drizzle statement on a connection of the pool's, sent and refused as drizzle would (describeDatabaseError reads its refusal). */
  private run(connection: ReservedSQL, statement: Statement): Promise<unknown[]> {
    const q = DIALECT.sqlToQuery(statement);
    return connection.unsafe(q.sql, q.params as unknown[]).then(
      (rows: unknown[]) => rows,
      (err: unknown) => {
        throw new Error(`Failed query: ${q.sql}`, { cause: err });
      },
    );
  }

  private async upsertMeta(db: Pick<PostgresDatabase, "execute">, key: string, value: string): Promise<void> {
    await db.execute(upsertMeta(key, value));
  }

  /** Trims the event log to the retention (postgres/maintenance.ts). */
  maintain(now: number): Promise<PostgresMaintenanceStats> {
    return maintain(this.db, this.history, this.retention, now);
  }

  async probe(now: number): Promise<void> {
    await this.said(() =>
      this.db.transaction(async (tx) => {
        await this.checkFence(tx);
        await this.upsertMeta(tx, "probed_at", String(now));
      }),
    );
  }

  async clusterId(): Promise<string | undefined> {
    return (await this.db.select().from(schema.meta).where(eq(schema.meta.key, CLUSTER_ID_KEY)))[0]?.value;
  }

  /** Unless one is recorded already: two control planes starting together on a fresh database both try, and the first is the cluster's. */
  async recordClusterId(id: string): Promise<void> {
    await this.db.insert(schema.meta).values({ key: CLUSTER_ID_KEY, value: id }).onConflictDoNothing();
  }

  /**
   * The cluster's CA row; made by `create` and written when the database has none. A concurrent
   * first start loses cleanly: its insert waits for the winner's to commit, then does nothing,
   * and both read the winner's row. (`create` may thus have made a CA that is thrown away.)
   */
  async clusterCa(create: () => Promise<{ cert: string; sealedKey: string }>): Promise<{ cert: string; sealedKey: string; created: boolean }> {
    const read = async () => (await this.db.select({ cert: schema.clusterCa.cert, sealedKey: schema.clusterCa.sealedKey }).from(schema.clusterCa).where(eq(schema.clusterCa.id, 1)))[0];
    const found = await read();
    if (found) return { ...found, created: false };
    const made = await create();
    const inserted = await this.db.insert(schema.clusterCa).values({ id: 1, ...made, createdAt: Date.now() }).onConflictDoNothing().returning({ id: schema.clusterCa.id });
    const row = await read();
    if (!row) throw new Error("the cluster CA was written but cannot be read back");
    return { ...row, created: inserted.length > 0 };
  }

  /** Writes a snapshot's rows (postgres/snapshot.ts) into this database if it holds none of Tessera's; else returns the tables that do. */
  restore(rows: Map<string, Array<Record<string, unknown>>>): Promise<string[]> {
    return this.said(() => importSnapshot(this.db, rows));
  }

  async hasState(): Promise<boolean> {
    const tables = [schema.events, schema.workloads, schema.instances, schema.nodes, schema.tokens, schema.nodeIdentities, schema.secretVersions, schema.meta];
    const found = await Promise.all(tables.map((t) => this.db.select({ one: sql`1` }).from(t as PgTable).limit(1)));
    return found.some((rows) => rows.length > 0);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

