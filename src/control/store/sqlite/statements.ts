/**
 * The writer's SQL statements: drizzle writes them from the schema, bun:sqlite runs them.
 * Drizzle builds the SQL and knows each parameter's column encoder (JSON, booleans); binding
 * the values ourselves, positionally, skips its per-run placeholder mapping, which cost as much
 * as SQLite itself on the writer's hot path (a turn writes tens of thousands of rows under a burst).
 */
import type { Database, SQLQueryBindings } from "bun:sqlite";
import { eq, getTableColumns, is, Param, Placeholder, type SQLWrapper, sql } from "drizzle-orm";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import * as schema from "./schema.js";

/** A row of named values, bound to a compiled statement's placeholders of the same names. */
type Row = Record<string, unknown>;

/** Prepares `query` once; the returned function runs it with a row's values. */
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

/**
 * An upsert of whole rows: a conflict on `target` overwrites the row from `excluded` (drizzle's
 * documented pattern), all but `target` and the `fixed` columns, which a row's key determines.
 * SQLite rewrites the entries of every index on a column the SET names, whatever the values: left
 * out, an update touches only the table's B-tree.
 */
function upsert<T extends SQLiteTable>(sqlite: Database, db: BunSQLiteDatabase<typeof schema>, table: T, target: SQLiteColumn, fixed: SQLiteColumn[] = []) {
  const kept = new Set([target, ...fixed]);
  const set = Object.fromEntries(
    Object.entries(getTableColumns(table))
      .filter(([, col]) => !kept.has(col))
      .map(([key, col]) => [key, sql.raw(`excluded.${col.name}`)]),
  );
  return compile(sqlite, db.insert(table).values(placeholders(table) as never).onConflictDoUpdate({ target, set: set as never }));
}

/** The writer's statements, compiled once per store. */
export function prepareWrites(sqlite: Database, db: BunSQLiteDatabase<typeof schema>) {
  return {
    /** Its `lastInsertRowid` is the event's sequence number (AUTOINCREMENT). */
    appendEvent: compile(sqlite, db.insert(schema.events).values(placeholders(schema.events, ["seq"]) as never)),
    upsertWorkload: upsert(sqlite, db, schema.workloads, schema.workloads.name),
    deleteWorkload: compile(sqlite, db.delete(schema.workloads).where(eq(schema.workloads.name, sql.placeholder("name")))),
    // An instance's id names its workload and index (instanceName).
    upsertInstance: upsert(sqlite, db, schema.instances, schema.instances.id, [schema.instances.workload, schema.instances.index]),
    deleteInstance: compile(sqlite, db.delete(schema.instances).where(eq(schema.instances.id, sql.placeholder("id")))),
    upsertNode: upsert(sqlite, db, schema.nodes, schema.nodes.name),
    upsertMeta: upsert(sqlite, db, schema.meta, schema.meta.key),
  };
}

export type Writes = ReturnType<typeof prepareWrites>;
