/**
 * Snapshots of the PostgreSQL store (`ctl snapshot save` on PostgreSQL, `control --restore
 * FILE --store postgres://…`): Tessera's tables read in ONE transaction (REPEATABLE READ, READ
 * ONLY: one snapshot of the database, taken beside the writer's commits without blocking them),
 * one JSON-lines file per table in the snapshot file (snapshot-file.ts); and their rows written
 * back into an empty database in one transaction. The cluster CA's key stays sealed with the CA
 * secret and tokens are hashes, as in the database: a restored cluster needs the same
 * `--ca-secret-file`, and the tokens it had keep working. The lease and the roll of control
 * planes are not taken: they belong to the control planes on a database, not to the cluster.
 */
import { sql } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import { packSnapshot, type Snapshot } from "../snapshot-file.js";
import type { PostgresDatabase } from "./history.js";
import * as schema from "./schema.js";

/** The tables a snapshot holds, under their SQL names (the files' names). */
const TABLES: Record<string, PgTable> = {
  meta: schema.meta,
  events: schema.events,
  workloads: schema.workloads,
  instances: schema.instances,
  nodes: schema.nodes,
  tokens: schema.tokens,
  node_identities: schema.nodeIdentities,
  cluster_ca: schema.clusterCa,
};

/** The sequences behind serial keys: set past the rows restored, so that new rows do not collide. */
const SEQUENCES: Array<{ table: string; column: string }> = [
  { table: "events", column: "seq" },
  { table: "tokens", column: "id" },
];

/** Rows per INSERT (the widest table, instances, 20 columns, stays well inside 65,535 parameters), and per encoding step. */
const ROWS_PER_INSERT = 1_000;

const fileOf = (table: string) => `postgres/${table}.jsonl`;

/** Every table's rows in one snapshot of the database, as a snapshot file's parts. */
export async function exportSnapshot(db: PostgresDatabase, now: number): Promise<Snapshot> {
  const rows = await db.transaction(
    async (tx) => {
      // One connection, one snapshot: the tables are read one after another.
      const out: Record<string, Array<Record<string, unknown>>> = {};
      for (const [name, table] of Object.entries(TABLES)) out[name] = await tx.select().from(table);
      return out;
    },
    { isolationLevel: "repeatable read", accessMode: "read only" },
  );
  const clusterId = String(rows.meta!.find((r) => r.key === "cluster_id")?.value ?? "");
  const sequence = rows.events!.reduce((max, r) => Math.max(max, Number(r.seq)), 0);
  const parts: Array<{ path: string; data: Uint8Array }> = [];
  for (const name of Object.keys(TABLES)) parts.push({ path: fileOf(name), data: await jsonLines(rows[name]!) });
  return packSnapshot({ store: "postgres", clusterId, sequence, now }, parts);
}

/**
 * Rows as JSON lines, a thousand at a time with a yield between: on the writer's thread, so a
 * large table's encoding lets its turns in rather than holding them for its whole length.
 */
async function jsonLines(rows: Array<Record<string, unknown>>): Promise<Uint8Array> {
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    chunks.push(encoder.encode(rows.slice(i, i + ROWS_PER_INSERT).map((r) => `${JSON.stringify(r)}\n`).join("")));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return Buffer.concat(chunks);
}

/** A snapshot's files as rows per table; throws naming a file that is not one of Tessera's tables or a line that is not a row. */
export function rowsOf(files: Array<{ path: string; data: Uint8Array }>): Map<string, Array<Record<string, unknown>>> {
  const byPath = new Map(Object.keys(TABLES).map((name) => [fileOf(name), name]));
  const out = new Map<string, Array<Record<string, unknown>>>();
  const decoder = new TextDecoder();
  for (const f of files) {
    const table = byPath.get(f.path);
    if (table === undefined) throw new Error(`${f.path} is not one of Tessera's tables (expected ${[...byPath.keys()].join(", ")})`);
    const lines = decoder.decode(f.data).split("\n").filter((l) => l !== "");
    out.set(
      table,
      lines.map((line, i) => {
        const row = JSON.parse(line) as unknown;
        if (row === null || typeof row !== "object" || Array.isArray(row)) throw new Error(`${f.path}, line ${i + 1}: expected a row (a JSON object)`);
        return row as Record<string, unknown>;
      }),
    );
  }
  return out;
}

/** How many rows each of Tessera's tables holds, of those that do: none means an empty database. */
export async function tablesWithRows(db: Pick<PostgresDatabase, "select">): Promise<string[]> {
  const found: string[] = [];
  for (const [name, table] of Object.entries(TABLES)) {
    const [row] = await db.select({ n: sql<string>`count(*)` }).from(table);
    if (Number(row?.n ?? 0) > 0) found.push(`${name}: ${row!.n} rows`);
  }
  return found;
}

/**
 * Writes the rows into the database in one transaction, after checking (inside it) that it
 * holds none of Tessera's rows; returns the tables that do hold some, written nothing, if any.
 */
export async function importSnapshot(db: PostgresDatabase, rows: Map<string, Array<Record<string, unknown>>>): Promise<string[]> {
  return db.transaction(async (tx) => {
    const occupied = await tablesWithRows(tx);
    if (occupied.length > 0) return occupied;
    for (const [name, table] of Object.entries(TABLES)) {
      const all = rows.get(name) ?? [];
      for (let i = 0; i < all.length; i += ROWS_PER_INSERT) await tx.insert(table).values(all.slice(i, i + ROWS_PER_INSERT));
    }
    for (const { table, column } of SEQUENCES) {
      await tx.execute(sql.raw(`SELECT setval(pg_get_serial_sequence('${table}', '${column}'), max("${column}")) FROM "${table}" HAVING max("${column}") IS NOT NULL`));
    }
    return [];
  });
}
