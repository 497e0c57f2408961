/**
 * A turn's rows of a table written in ONE statement whatever their number: the rows go as one
 * JSON text parameter that `json_to_recordset` unpacks on the server, keyed as rows.ts keys
 * them. The statement's text is built once per table (each pooled connection prepares it
 * once), and nothing is built per row here but the JSON. drizzle's multi-row VALUES made a
 * parameter per cell (23 per workload row) and building them cost the control plane more CPU
 * than the database spent writing the rows (issue 33).
 */
import { getTableColumns, getTableName, type SQL, sql } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";

/** A table's columns as its rows key them. */
type Key<T extends PgTable> = keyof T["_"]["columns"] & string;

/**
 * The statement, given the rows: every column but the omitted ones, each row complete (a
 * missing key would be NULL, not the column's default). Returns what `returning` names, one
 * row per row given, in their order.
 */
export type Recordset<Row> = (rows: Row[]) => SQL;

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** A column's type in json_to_recordset's record definition: a serial is a plain integer there. */
function recordType(sqlType: string): string {
  return sqlType === "bigserial" ? "bigint" : sqlType === "serial" ? "integer" : sqlType;
}

function columnsOf<T extends PgTable>(table: T): Array<[string, { name: string; getSQLType(): string }]> {
  return Object.entries(getTableColumns(table));
}

function columnName<T extends PgTable>(table: T, key: string): string {
  const col = getTableColumns(table)[key];
  if (!col) throw new Error(`table ${getTableName(table)} has no column ${key}`);
  return quote(col.name);
}

/** The statement around its one parameter, the rows (or keys) as JSON text. */
function around(head: string, tail: string): Recordset<unknown> {
  // Text, then cast: a parameter typed json would have the client encode the text as a JSON string.
  return (rows) => sql`${sql.raw(head)}${JSON.stringify(rows)}${sql.raw(`::text::json${tail}`)}`;
}

/**
 * `INSERT INTO table (…) SELECT … FROM json_to_recordset(rows)`; with `conflict` (the key), a
 * row already there is overwritten whole.
 */
export function recordsetInsert<T extends PgTable, Omitted extends Key<T> = never>(
  table: T,
  opts: { omit?: Omitted[]; conflict?: Key<T>; returning?: Key<T>[] } = {},
): Recordset<Omit<T["$inferSelect"], Omitted>> {
  const omitted = new Set<string>(opts.omit ?? []);
  const columns = columnsOf(table).filter(([key]) => !omitted.has(key));
  const names = columns.map(([, col]) => quote(col.name)).join(", ");
  const picked = columns.map(([key]) => `r.${quote(key)}`).join(", ");
  const record = columns.map(([key, col]) => `${quote(key)} ${recordType(col.getSQLType())}`).join(", ");
  let tail = `) AS r(${record})`;
  if (opts.conflict !== undefined) {
    const set = columns.filter(([key]) => key !== opts.conflict).map(([, col]) => `${quote(col.name)} = excluded.${quote(col.name)}`);
    tail += ` ON CONFLICT (${columnName(table, opts.conflict)}) DO UPDATE SET ${set.join(", ")}`;
  }
  if (opts.returning) tail += ` RETURNING ${opts.returning.map((key) => `${columnName(table, key)} AS ${quote(key)}`).join(", ")}`;
  return around(`INSERT INTO ${quote(getTableName(table))} (${names}) SELECT ${picked} FROM json_to_recordset(`, tail);
}

/** `DELETE FROM table WHERE key IN (keys)`. */
export function recordsetDelete<T extends PgTable>(table: T, key: Key<T>): Recordset<string> {
  return around(`DELETE FROM ${quote(getTableName(table))} WHERE ${columnName(table, key)} IN (SELECT json_array_elements_text(`, "))");
}
