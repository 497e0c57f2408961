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

/**
 * Rows one statement of a batch writes (batch below). Every run of a statement crosses from
 * JavaScript into SQLite and back and steps a program of its own: a turn of a burst writes tens
 * of thousands of rows, and 64 to a statement made the events' inserts about a fifth cheaper.
 * The widest table (workloads, 23 columns) then binds 1,472 parameters, far under SQLite's
 * limit of 32,766.
 */
const ROWS_PER_STATEMENT = 64;

/** A placeholder's row and column: `i:key` names column `key` of the i-th row of a batch, `key` that of the only row. */
function placeholderOf(name: string): { offset: number; key: string } {
  const sep = name.indexOf(":");
  return sep < 0 ? { offset: 0, key: name } : { offset: Number(name.slice(0, sep)), key: name.slice(sep + 1) };
}

/**
 * Prepares `query` once; the returned function runs it with the values of `rows` from `at` on
 * (as many as its placeholders name).
 */
function compileRows(sqlite: Database, query: SQLWrapper & { toSQL(): { sql: string; params: unknown[] } }) {
  const { sql: text, params } = query.toSQL();
  const binders = params.map((p): ((rows: readonly Row[], at: number) => unknown) => {
    const placeholder = (is(p, Param) ? p.value : p) as Placeholder;
    if (!is(placeholder, Placeholder)) throw new Error(`compile: parameter ${String(placeholder)} is not a placeholder`);
    const encoder = is(p, Param) ? p.encoder : undefined;
    const { offset, key } = placeholderOf(placeholder.name);
    return (rows, at) => {
      const value = rows[at + offset]![key];
      if (value === undefined) throw new Error(`no value for placeholder "${key}"`);
      return encoder ? encoder.mapToDriverValue(value) : value;
    };
  });
  const statement = sqlite.prepare<unknown, SQLQueryBindings[]>(text);
  return (rows: readonly Row[], at: number) => {
    const values = new Array<SQLQueryBindings>(binders.length);
    for (let i = 0; i < binders.length; i++) values[i] = binders[i]!(rows, at) as SQLQueryBindings;
    return statement.run(...values);
  };
}

/** Prepares `query` once; the returned function runs it with a row's values. */
function compile(sqlite: Database, query: SQLWrapper & { toSQL(): { sql: string; params: unknown[] } }) {
  const run = compileRows(sqlite, query);
  return (row: Row) => run([row], 0);
}

/** Every column of `table` but `omit` as a placeholder named after its key (`row:key` for a batch's row `row`). */
function placeholders(table: SQLiteTable, omit: string[] = [], row?: number) {
  return Object.fromEntries(
    Object.keys(getTableColumns(table))
      .filter((key) => !omit.includes(key))
      .map((key) => [key, sql.placeholder(row === undefined ? key : `${row}:${key}`)]),
  );
}

/**
 * Writes any number of rows with the statement `build` makes for a given number of rows:
 * ROWS_PER_STATEMENT to a run, the rest one at a time. Returns the rowid SQLite gave each row,
 * in order (meaningful for plain inserts: a multi-row INSERT numbers its rows one after another,
 * so a run's rows end at its `lastInsertRowid`).
 */
function batch(sqlite: Database, build: (rows: number) => SQLWrapper & { toSQL(): { sql: string; params: unknown[] } }) {
  const many = compileRows(sqlite, build(ROWS_PER_STATEMENT));
  const one = compileRows(sqlite, build(1));
  return (rows: readonly Row[]): number[] => {
    const ids = new Array<number>(rows.length);
    let at = 0;
    for (; at + ROWS_PER_STATEMENT <= rows.length; at += ROWS_PER_STATEMENT) {
      const last = Number(many(rows, at).lastInsertRowid);
      for (let i = 0; i < ROWS_PER_STATEMENT; i++) ids[at + i] = last - ROWS_PER_STATEMENT + 1 + i;
    }
    for (; at < rows.length; at++) ids[at] = Number(one(rows, at).lastInsertRowid);
    return ids;
  };
}

/** The placeholders of `count` rows of `table` (a batch's), but the columns `omit`. */
function rowsOf(table: SQLiteTable, count: number, omit: string[] = []) {
  return Array.from({ length: count }, (_, i) => placeholders(table, omit, i));
}

/**
 * An upsert of whole rows, `count` of them: a conflict on `target` overwrites the row from
 * `excluded` (drizzle's documented pattern), all but `target` and the `fixed` columns, which a
 * row's key determines. SQLite rewrites the entries of every index on a column the SET names,
 * whatever the values: left out, an update touches only the table's B-tree.
 */
function upsert<T extends SQLiteTable>(db: BunSQLiteDatabase<typeof schema>, table: T, target: SQLiteColumn, fixed: SQLiteColumn[] = []) {
  const kept = new Set([target, ...fixed]);
  const set = Object.fromEntries(
    Object.entries(getTableColumns(table))
      .filter(([, col]) => !kept.has(col))
      .map(([key, col]) => [key, sql.raw(`excluded.${col.name}`)]),
  );
  return (count: number) => db.insert(table).values(rowsOf(table, count) as never).onConflictDoUpdate({ target, set: set as never });
}

/** The writer's statements, compiled once per store. */
export function prepareWrites(sqlite: Database, db: BunSQLiteDatabase<typeof schema>) {
  return {
    /** The rowid of each is its sequence number (AUTOINCREMENT), in the rows' order. */
    appendEvents: batch(sqlite, (count) => db.insert(schema.events).values(rowsOf(schema.events, count, ["seq"]) as never)),
    upsertWorkloads: batch(sqlite, upsert(db, schema.workloads, schema.workloads.name)),
    deleteWorkload: compile(sqlite, db.delete(schema.workloads).where(eq(schema.workloads.name, sql.placeholder("name")))),
    // An instance's id names its workload and index (instanceName).
    upsertInstances: batch(sqlite, upsert(db, schema.instances, schema.instances.id, [schema.instances.workload, schema.instances.index])),
    deleteInstance: compile(sqlite, db.delete(schema.instances).where(eq(schema.instances.id, sql.placeholder("id")))),
    upsertNodes: batch(sqlite, upsert(db, schema.nodes, schema.nodes.name)),
    upsertMeta: compile(sqlite, upsert(db, schema.meta, schema.meta.key)(1)),
  };
}

export type Writes = ReturnType<typeof prepareWrites>;
