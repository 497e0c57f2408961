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
import { asc, gt, sql } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import { packSnapshot, type Snapshot } from "../snapshot-file.js";
import type { PostgresDatabase } from "./history.js";
import * as schema from "./schema.js";

/** The tables a snapshot holds, under their SQL names (the files' names), each with its primary key (what pages are read by). */
const TABLES: Record<string, { table: PgTable; key: PgColumn; field: string }> = {
  meta: { table: schema.meta, key: schema.meta.key, field: "key" },
  events: { table: schema.events, key: schema.events.seq, field: "seq" },
  workloads: { table: schema.workloads, key: schema.workloads.name, field: "name" },
  instances: { table: schema.instances, key: schema.instances.id, field: "id" },
  nodes: { table: schema.nodes, key: schema.nodes.name, field: "name" },
  tokens: { table: schema.tokens, key: schema.tokens.id, field: "id" },
  node_identities: { table: schema.nodeIdentities, key: schema.nodeIdentities.node, field: "node" },
  cluster_ca: { table: schema.clusterCa, key: schema.clusterCa.id, field: "id" },
};

/** The sequences behind serial keys: set past the rows restored, so that new rows do not collide. */
const SEQUENCES: Array<{ table: string; column: string }> = [
  { table: "events", column: "seq" },
  { table: "tokens", column: "id" },
];

/**
 * Rows per statement: per INSERT (the widest table, instances, 20 columns, stays well inside
 * 65,535 parameters), and per page read. The client parses a result on the writer's thread:
 * pages keep each parse, and the encoding after it, short, so the writer's turns go on between.
 */
const ROWS_PER_STATEMENT = 1_000;

const fileOf = (table: string) => `postgres/${table}.jsonl`;

/** Every table's rows in one snapshot of the database, as a snapshot file's parts. */
export async function exportSnapshot(db: PostgresDatabase, now: number): Promise<Snapshot> {
  const encoder = new TextEncoder();
  let clusterId = "";
  let sequence = 0;
  const parts = await db.transaction(
    async (tx) => {
      // One connection, one snapshot: the pages are read one after another, all as of the transaction's first.
      const out: Array<{ path: string; data: Uint8Array }> = [];
      for (const [name, { table, key, field }] of Object.entries(TABLES)) {
        const chunks: Uint8Array[] = [];
        for (let after: unknown; ; ) {
          const page: Array<Record<string, unknown>> = await tx.select().from(table).where(after === undefined ? undefined : gt(key, after)).orderBy(asc(key)).limit(ROWS_PER_STATEMENT);
          if (page.length === 0) break;
          if (name === "meta") clusterId = String(page.find((r) => r.key === "cluster_id")?.value ?? clusterId);
          if (name === "events") sequence = Number(page[page.length - 1]!.seq);
          chunks.push(encoder.encode(page.map((r) => `${JSON.stringify(r)}\n`).join("")));
          after = page[page.length - 1]![field];
        }
        out.push({ path: fileOf(name), data: Buffer.concat(chunks) });
      }
      return out;
    },
    { isolationLevel: "repeatable read", accessMode: "read only" },
  );
  return packSnapshot({ store: "postgres", clusterId, sequence, now }, parts);
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
  for (const [name, { table }] of Object.entries(TABLES)) {
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
    for (const [name, { table }] of Object.entries(TABLES)) {
      const all = rows.get(name) ?? [];
      for (let i = 0; i < all.length; i += ROWS_PER_STATEMENT) await tx.insert(table).values(all.slice(i, i + ROWS_PER_STATEMENT));
    }
    for (const { table, column } of SEQUENCES) {
      await tx.execute(sql.raw(`SELECT setval(pg_get_serial_sequence('${table}', '${column}'), max("${column}")) FROM "${table}" HAVING max("${column}") IS NOT NULL`));
    }
    return [];
  });
}
