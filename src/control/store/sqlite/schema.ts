/**
 * SQLite schema of the control plane's store (drizzle-orm). Migrations are generated from this
 * file by drizzle-kit (`make migrations`) into ./migrations and embedded in the binary.
 *
 * `events` is the append-only log; the other tables are the state it derives, kept so a
 * restart does not replay the whole log.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { BatchOutcome, NodeLimits, PeriodicState, RunOf } from "../../../core/model/cluster-state.js";
import { type AssignedPort, NO_PORTS, type NodePorts } from "../../../core/model/ports.js";
import type { SecretKeyInfo } from "../../../core/model/secrets.js";
import type { HostVolume } from "../../../core/model/volumes.js";

export const events = sqliteTable(
  "events",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    at: integer("at").notNull(),
    version: integer("version").notNull(),
    type: text("type").notNull(),
    workload: text("workload"),
    instance: text("instance"),
    node: text("node"),
    /** The whole event as JSON. */
    data: text("data").notNull(),
  },
  // A node's recent events (GetNode) are read by the node index; most events name no node,
  // and the partial index leaves them out.
  (t) => [index("events_workload").on(t.workload, t.seq), index("events_node").on(t.node, t.seq).where(sql`${t.node} IS NOT NULL`)],
);

export const workloads = sqliteTable("workloads", {
  name: text("name").primaryKey(),
  labels: text("labels", { mode: "json" }).$type<Record<string, string>>().notNull(),
  /** proto3 JSON of tessera.v1.WorkloadSpec. */
  spec: text("spec", { mode: "json" }).notNull(),
  generation: integer("generation").notNull(),
  templateGeneration: integer("template_generation").notNull().default(1),
  restartSeq: integer("restart_seq").notNull().default(0),
  templateChangedAt: integer("template_changed_at").notNull().default(0),
  /** When the rollout's progress deadline started counting (its start, a promotion, a resume). */
  progressSince: integer("progress_since").notNull().default(0),
  /** proto3 JSON of the spec before the last template change, or null. */
  previousSpec: text("previous_spec", { mode: "json" }),
  deleting: integer("deleting", { mode: "boolean" }).notNull(),
  createdAt: integer("created_at").notNull(),
  /** Batch: failed runs of the current template. */
  failures: integer("failures").notNull().default(0),
  /** Batch: how it ended ({at, outcome, reason}), or null. */
  finished: text("finished", { mode: "json" }).$type<BatchOutcome>(),
  /** The current template's rollout was promoted past its canaries. */
  promoted: integer("promoted", { mode: "boolean" }).notNull().default(false),
  /** {spec (proto3 JSON), generation} of the last completed rollout, or null. */
  stable: text("stable", { mode: "json" }),
  /** [{spec (proto3 JSON), generation, reason}] of reverted rollouts. */
  quarantined: text("quarantined", { mode: "json" }).notNull().default([]),
  /** {from, to}: generations whose copies run a reverted spec, or null. */
  reverted: text("reverted", { mode: "json" }).$type<{ from: number; to: number }>(),
  /** [{from, template, spec (proto3 JSON)}]: the template each generation's copies run; [] in a store from before. */
  eras: text("eras", { mode: "json" }).notNull().default([]),
  /** Its rollout is paused. */
  paused: integer("paused", { mode: "boolean" }).notNull().default(false),
  /** The rollout wave being replaced; -1 before the first. */
  wave: integer("wave").notNull().default(-1),
  /** The delivery gate holding its rollout; "" when none. */
  rolloutHold: text("rollout_hold").notNull().default(""),
  /** A periodic batch: {handled, last} (the time handled last, its latest run or skip), or null. */
  periodic: text("periodic", { mode: "json" }).$type<PeriodicState>(),
  /** A periodic batch's run: {workload, due, manual?}, or null. */
  runOf: text("run_of", { mode: "json" }).$type<RunOf>(),
});

export const instances = sqliteTable(
  "instances",
  {
    id: text("id").primaryKey(),
    workload: text("workload").notNull(),
    index: integer("idx").notNull(),
    generation: integer("generation").notNull(),
    node: text("node"),
    desired: text("desired", { enum: ["run", "stop"] }).notNull(),
    state: text("state").notNull(),
    attempt: integer("attempt").notNull(),
    cpuMillis: integer("cpu_millis").notNull().default(0),
    memoryMb: integer("memory_mb").notNull().default(0),
    readinessChecks: text("readiness_checks", { mode: "json" }).$type<string[]>().notNull().default([]),
    passing: text("passing", { mode: "json" }).$type<string[]>().notNull().default([]),
    ports: text("ports", { mode: "json" }).$type<AssignedPort[]>().notNull().default([]),
    reason: text("reason").notNull(),
    exitCode: integer("exit_code"),
    stderrTail: text("stderr_tail").notNull().default(""),
    failedAt: integer("failed_at"),
    runningSince: integer("running_since"),
    readySince: integer("ready_since"),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("instances_workload").on(t.workload)],
);

export const nodes = sqliteTable("nodes", {
  name: text("name").primaryKey(),
  executors: text("executors", { mode: "json" }).$type<string[]>().notNull(),
  version: text("version").notNull(),
  lastHeartbeatAt: integer("last_heartbeat_at").notNull(),
  labels: text("labels", { mode: "json" }).$type<Record<string, string>>().notNull().default({}),
  cpuMillis: integer("cpu_millis").notNull().default(0),
  memoryMb: integer("memory_mb").notNull().default(0),
  health: text("health", { enum: ["ready", "suspect", "offline"] }).notNull().default("offline"),
  schedulable: integer("schedulable", { mode: "boolean" }).notNull().default(true),
  draining: integer("draining", { mode: "boolean" }).notNull().default(false),
  /** What its agent advertised (address, range, reserved); a node from before ports offers none. */
  ports: text("ports", { mode: "json" }).$type<NodePorts>().notNull().default(NO_PORTS),
  /** The host volumes its agent declared; a node from before host volumes offers none. */
  volumes: text("volumes", { mode: "json" }).$type<HostVolume[]>().notNull().default([]),
  /** Whether the leader had its agent's stream open at the commit, and which (a follower's snapshot holds them; a start drops them). */
  connected: integer("connected", { mode: "boolean" }).notNull().default(false),
  session: integer("session").notNull().default(0),
  /** Whether its agent enforces copies' resources (cgroups), as its last hello said; null: it said nothing (simulated, older). */
  limits: text("limits", { mode: "json" }).$type<NodeLimits>(),
});

/** API tokens: only their SHA-256 is kept. */
export const tokens = sqliteTable("tokens", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  role: text("role", { enum: ["admin", "readonly", "join"] }).notNull(),
  hash: text("hash").notNull().unique(),
  createdAt: integer("created_at").notNull(),
  revokedAt: integer("revoked_at"),
  /** When it stops working; null: never. */
  expiresAt: integer("expires_at"),
  /** Join tokens: enrollments left; null: any number. */
  usesLeft: integer("uses_left"),
});

/** The one certificate (by serial) each enrolled node may connect with (node-identity.ts). */
export const nodeIdentities = sqliteTable("node_identities", {
  node: text("node").primaryKey(),
  serial: text("serial"),
  pending: text("pending"),
  notAfter: integer("not_after").notNull(),
  removed: integer("removed", { mode: "boolean" }).notNull().default(false),
  approved: integer("approved", { mode: "boolean" }).notNull().default(false),
  /** SHA-256 of the key its join-token enrollment certified; null once renewed, or from before it was kept. */
  keyDigest: text("key_digest"),
});

/**
 * The kept versions of each secret and config (core/model/secrets.ts), one row each. `payload`
 * is a secret's values sealed under the cluster key (security/secret-seal.ts), or a config's
 * contents; null for a version recorded without one.
 */
export const secretVersions = sqliteTable(
  "secret_versions",
  {
    kind: text("kind", { enum: ["secret", "config"] }).notNull(),
    name: text("name").notNull(),
    version: integer("version").notNull(),
    keys: text("keys", { mode: "json" }).$type<SecretKeyInfo[]>().notNull(),
    digest: text("digest").notNull(),
    payload: text("payload"),
    by: text("by").notNull(),
    at: integer("at").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.name, t.version] })],
);

/** Small key/value facts, e.g. the next instance sequence number. */
export const meta = sqliteTable("meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});
