/**
 * A turn's rows of a table written in ONE statement whatever their number. The statement's text
 * is built once per table (each pooled connection prepares it once), and nothing is built per
 * row here but text. drizzle's multi-row VALUES made a parameter per cell (23 per workload row)
 * and building them cost the control plane more CPU than the database spent writing the rows
 * (issue 33).
 *
 * The rows go by column: one text parameter per column, its values joined by SEPARATOR, split
 * on the server by `string_to_array` and zipped back into rows by `unnest`. Sent as one JSON
 * array of objects instead (`json_to_recordset`), the database spent about as long parsing the
 * JSON as inserting the rows: an event's text is JSON inside that JSON, every quote of it
 * escaped, and each row's object became a hash of its keys. A batch in which some value holds
 * SEPARATOR, or is exactly NULL_MARK, goes that way still: any text reads back as it was.
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

/** A column's type as a value (json_to_recordset's record definition, a cast): a serial is a plain integer there. */
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
 * Between two values of a column: JSON.stringify never writes it raw (it escapes every control
 * character), and neither do numbers or booleans; a string holding it sends its batch as JSON.
 */
const SEPARATOR = "\x1e";
/** A NULL among a column's values (NULLIF on the server); a string that is exactly this sends its batch as JSON. */
const NULL_MARK = "\x1f";

/** `char` as an SQL string literal. */
const literal = (char: string) => `E'\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}'`;

interface Column {
  key: string;
  /** A json column: its values are sent as their JSON text. */
  json: boolean;
}

/** A cell as its column's text: what the column's type reads back as the value. */
function cellText(value: unknown, json: boolean): string {
  if (value === null || value === undefined) return NULL_MARK;
  if (json) return JSON.stringify(value);
  return typeof value === "boolean" ? (value ? "t" : "f") : String(value);
}

/**
 * Each column's values as one text, every value followed by SEPARATOR (one row's empty string is
 * then one element, not none), or undefined when a string would be misread.
 */
function columnTexts(rows: readonly Record<string, unknown>[], columns: readonly Column[]): string[] | undefined {
  const texts: string[] = [];
  for (const { key, json } of columns) {
    const cells = new Array<string>(rows.length + 1);
    for (let i = 0; i < rows.length; i++) {
      const value = rows[i]![key];
      if (!json && typeof value === "string" && (value === NULL_MARK || value.includes(SEPARATOR))) return undefined;
      cells[i] = cellText(value, json);
    }
    cells[rows.length] = "";
    texts.push(cells.join(SEPARATOR));
  }
  return texts;
}

/**
 * `${into} <the cells> FROM unnest(each column's values split) … ${after}`, or undefined for a
 * batch that cannot go by column (columnTexts).
 */
function byColumn(columns: Array<[string, { getSQLType(): string }]>, into: string, after: string): (rows: unknown[]) => SQL | undefined {
  const keyed: Column[] = columns.map(([key, col]) => ({ key, json: col.getSQLType() === "json" }));
  const cells = columns.map(([, col], i) => `NULLIF(r.c${i}, ${literal(NULL_MARK)})::${recordType(col.getSQLType())}`).join(", ");
  const head = sql.raw(`${into} ${cells} FROM unnest(`);
  const split = (i: number) => sql.raw(`${i === 0 ? "" : ", "}string_to_array(`);
  const splitEnd = sql.raw(`::text, ${literal(SEPARATOR)})`);
  // The values' trailing separator makes one element more per column: a last row, left out.
  const rest = sql.raw(`) WITH ORDINALITY AS r(${columns.map((_, i) => `c${i}`).join(", ")}, n) WHERE r.n <= `);
  const end = sql.raw(`::int${after}`);
  return (rows) => {
    const texts = columnTexts(rows as Record<string, unknown>[], keyed);
    return texts && sql.join([head, ...texts.flatMap((t, i) => [split(i), sql`${t}`, splitEnd]), rest, sql`${rows.length}`, end]);
  };
}

/**
 * `INSERT INTO table (…) SELECT … FROM unnest(each column's values)`, or from
 * json_to_recordset(rows) for a batch that cannot go by column; with `conflict` (the key), a row
 * already there is overwritten whole.
 */
export function recordsetInsert<T extends PgTable, Omitted extends Key<T> = never>(
  table: T,
  opts: { omit?: Omitted[]; conflict?: Key<T>; returning?: Key<T>[] } = {},
): Recordset<Omit<T["$inferSelect"], Omitted>> {
  const omitted = new Set<string>(opts.omit ?? []);
  const columns = columnsOf(table).filter(([key]) => !omitted.has(key));
  const into = `INSERT INTO ${quote(getTableName(table))} (${columns.map(([, col]) => quote(col.name)).join(", ")}) SELECT`;
  let after = "";
  if (opts.conflict !== undefined) {
    const set = columns.filter(([key]) => key !== opts.conflict).map(([, col]) => `${quote(col.name)} = excluded.${quote(col.name)}`);
    after += ` ON CONFLICT (${columnName(table, opts.conflict)}) DO UPDATE SET ${set.join(", ")}`;
  }
  if (opts.returning) after += ` RETURNING ${opts.returning.map((key) => `${columnName(table, key)} AS ${quote(key)}`).join(", ")}`;
  const record = columns.map(([key, col]) => `${quote(key)} ${recordType(col.getSQLType())}`).join(", ");
  const asJson = around(`${into} ${columns.map(([key]) => `r.${quote(key)}`).join(", ")} FROM json_to_recordset(`, `) AS r(${record})${after}`);
  const asColumns = byColumn(columns, into, after);
  return (rows) => asColumns(rows) ?? asJson(rows);
}

/** `DELETE FROM table WHERE key IN (keys)`. */
export function recordsetDelete<T extends PgTable>(table: T, key: Key<T>): Recordset<string> {
  return around(`DELETE FROM ${quote(getTableName(table))} WHERE ${columnName(table, key)} IN (SELECT json_array_elements_text(`, "))");
}
