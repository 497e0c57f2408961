/**
 * PostgreSQL schema of the control plane's store (drizzle-orm): a mirror of ../schema.ts,
 * table for table and column for column (same names, same TypeScript row types, so rows.ts
 * serves both; postgres/store.ts does not compile when they drift). A column added there is
 * added here too, then `make migrations` generates both dialects' SQL.
 *
 * Times are epoch milliseconds (bigint read as numbers); JSON is json, kept as the control plane
 * wrote it: nothing queries inside it, and jsonb would parse every value of a commit a second
 * time, after the json cast checked it (recordset.ts), to store it.
 */
import { sql } from "drizzle-orm";
import { bigint, bigserial, boolean, check, customType, index, integer, json, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import type { BatchOutcome, NodeLimits, PeriodicState, RunOf } from "../../../core/model/cluster-state.js";
import { type AssignedPort, NO_PORTS, type NodePorts } from "../../../core/model/ports.js";
import type { SecretKeyInfo } from "../../../core/model/secrets.js";
import type { HostVolume } from "../../../core/model/volumes.js";

/** Epoch milliseconds: beyond int4, within a double. */
const ms = (name: string) => bigint(name, { mode: "number" });

/**
 * A name or id the control plane gives or checks (a workload, a copy, a node): compared byte by
 * byte, as SQLite compares text, whatever the database's default collation. Their indexes take
 * every turn's rows, and a locale's comparison costs more for nothing: nobody sorts names by
 * language. (Replaying a turn's 6,000 event rows: 43.7 → 36.0 ms in PostgreSQL under C.UTF-8.)
 */
const identifier = customType<{ data: string }>({ dataType: () => 'text COLLATE "C"' });

export const events = pgTable(
  "events",
  {
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    at: ms("at").notNull(),
    version: integer("version").notNull(),
    type: text("type").notNull(),
    workload: identifier("workload"),
    instance: identifier("instance"),
    node: identifier("node"),
    /** The whole event as JSON text (as SQLite keeps it: parsed only where a reader asks). */
    data: text("data").notNull(),
    /**
     * PostgreSQL only (no lease on SQLite): the leader that committed it and the lease's epoch
     * it held, checked inside the same transaction; an audit of the fencing.
     */
    leader: text("leader"),
    epoch: bigint("epoch", { mode: "number" }),
  },
  (t) => [index("events_workload").on(t.workload, t.seq), index("events_node").on(t.node, t.seq).where(sql`${t.node} IS NOT NULL`)],
);

export const workloads = pgTable("workloads", {
  name: identifier("name").primaryKey(),
  labels: json("labels").$type<Record<string, string>>().notNull(),
  spec: json("spec").$type<unknown>().notNull(),
  generation: integer("generation").notNull(),
  templateGeneration: integer("template_generation").notNull().default(1),
  restartSeq: integer("restart_seq").notNull().default(0),
  templateChangedAt: ms("template_changed_at").notNull().default(0),
  progressSince: ms("progress_since").notNull().default(0),
  previousSpec: json("previous_spec").$type<unknown>(),
  deleting: boolean("deleting").notNull(),
  createdAt: ms("created_at").notNull(),
  failures: integer("failures").notNull().default(0),
  finished: json("finished").$type<BatchOutcome>(),
  promoted: boolean("promoted").notNull().default(false),
  stable: json("stable").$type<unknown>(),
  quarantined: json("quarantined").$type<unknown>().notNull().default([]),
  reverted: json("reverted").$type<{ from: number; to: number }>(),
  eras: json("eras").$type<unknown>().notNull().default([]),
  paused: boolean("paused").notNull().default(false),
  wave: integer("wave").notNull().default(-1),
  rolloutHold: text("rollout_hold").notNull().default(""),
  /** A periodic batch: {handled, last} (the time handled last, its latest run or skip), or null. */
  periodic: json("periodic").$type<PeriodicState>(),
  /** A periodic batch's run: {workload, due, manual?}, or null. */
  runOf: json("run_of").$type<RunOf>(),
});

/**
 * A copy's row is rewritten as it moves through its states: its pages are filled to half
 * (fillfactor 50, migration 0017, written by hand: drizzle declares no storage parameters), so
 * that a new version fits beside the old one and writes no new entry in the indexes (a HOT update).
 */
export const instances = pgTable(
  "instances",
  {
    id: identifier("id").primaryKey(),
    workload: identifier("workload").notNull(),
    index: integer("idx").notNull(),
    generation: integer("generation").notNull(),
    node: identifier("node"),
    desired: text("desired", { enum: ["run", "stop"] }).notNull(),
    state: text("state").notNull(),
    attempt: integer("attempt").notNull(),
    cpuMillis: integer("cpu_millis").notNull().default(0),
    memoryMb: integer("memory_mb").notNull().default(0),
    readinessChecks: json("readiness_checks").$type<string[]>().notNull().default([]),
    passing: json("passing").$type<string[]>().notNull().default([]),
    ports: json("ports").$type<AssignedPort[]>().notNull().default([]),
    reason: text("reason").notNull(),
    exitCode: integer("exit_code"),
    stderrTail: text("stderr_tail").notNull().default(""),
    failedAt: ms("failed_at"),
    runningSince: ms("running_since"),
    readySince: ms("ready_since"),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [index("instances_workload").on(t.workload)],
);

export const nodes = pgTable("nodes", {
  name: identifier("name").primaryKey(),
  executors: json("executors").$type<string[]>().notNull(),
  version: text("version").notNull(),
  lastHeartbeatAt: ms("last_heartbeat_at").notNull(),
  labels: json("labels").$type<Record<string, string>>().notNull().default({}),
  cpuMillis: integer("cpu_millis").notNull().default(0),
  memoryMb: integer("memory_mb").notNull().default(0),
  health: text("health", { enum: ["ready", "suspect", "offline"] }).notNull().default("offline"),
  schedulable: boolean("schedulable").notNull().default(true),
  draining: boolean("draining").notNull().default(false),
  ports: json("ports").$type<NodePorts>().notNull().default(NO_PORTS),
  volumes: json("volumes").$type<HostVolume[]>().notNull().default([]),
  connected: boolean("connected").notNull().default(false),
  session: integer("session").notNull().default(0),
  /** Whether its agent enforces copies' resources (cgroups), as its last hello said; null: it said nothing (simulated, older). */
  limits: json("limits").$type<NodeLimits>(),
});

export const tokens = pgTable("tokens", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  role: text("role", { enum: ["admin", "readonly", "join"] }).notNull(),
  hash: text("hash").notNull().unique(),
  createdAt: ms("created_at").notNull(),
  revokedAt: ms("revoked_at"),
  expiresAt: ms("expires_at"),
  usesLeft: integer("uses_left"),
});

export const nodeIdentities = pgTable("node_identities", {
  node: text("node").primaryKey(),
  serial: text("serial"),
  pending: text("pending"),
  notAfter: ms("not_after").notNull(),
  removed: boolean("removed").notNull().default(false),
  approved: boolean("approved").notNull().default(false),
  /** SHA-256 of the key its join-token enrollment certified; null once renewed, or from before it was kept. */
  keyDigest: text("key_digest"),
});

/** The kept versions of each secret and config (../sqlite/schema.ts says what each column holds). */
export const secretVersions = pgTable(
  "secret_versions",
  {
    kind: text("kind", { enum: ["secret", "config"] }).notNull(),
    name: text("name").notNull(),
    version: integer("version").notNull(),
    keys: json("keys").$type<SecretKeyInfo[]>().notNull(),
    digest: text("digest").notNull(),
    payload: text("payload"),
    by: text("by").notNull(),
    at: ms("at").notNull(),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.name, t.version] })],
);

export const meta = pgTable("meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

/**
 * PostgreSQL only: the lease on leadership among the control planes on this database (one
 * row, id 1). Times are the database's clock (timestamptz): only it decides expiry.
 */
export const leadership = pgTable(
  "leadership",
  {
    id: integer("id").primaryKey(),
    holder: text("holder").notNull(),
    address: text("address").notNull(),
    epoch: bigint("epoch", { mode: "number" }).notNull(),
    renewedAt: timestamp("renewed_at", { withTimezone: true }).notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  },
  (t) => [check("leadership_one_row", sql`${t.id} = 1`)],
);

/** PostgreSQL only: every control plane on this database, as of its last attempt at the lease. */
export const controlPlanes = pgTable("control_planes", {
  id: text("id").primaryKey(),
  address: text("address").notNull(),
  startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
  seenAt: timestamp("seen_at", { withTimezone: true }).notNull(),
  /** The sequence number of the newest event in its state, as of its last attempt (how far behind it is). */
  appliedSeq: bigint("applied_seq", { mode: "number" }).notNull().default(0),
});

/**
 * PostgreSQL only: the cluster's CA (one row, id 1), so that every control plane on this
 * database serves the same identity. Written once, by the first control plane (INSERT … ON
 * CONFLICT DO NOTHING: a concurrent first start reads the winner's). The private key is sealed
 * with the control planes' `--ca-secret-file` (security/ca-seal.ts); the database never sees it
 * in the clear.
 */
export const clusterCa = pgTable(
  "cluster_ca",
  {
    id: integer("id").primaryKey(),
    cert: text("cert").notNull(),
    sealedKey: text("sealed_key").notNull(),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [check("cluster_ca_one_row", sql`${t.id} = 1`)],
);
