/**
 * postgres/recordset.ts on a real PostgreSQL: rows go by column (each column's values joined by a
 * separator) or, when a string holds that separator or is exactly the NULL mark, as JSON; either
 * way every row reads back as it was given. Texts of any characters PostgreSQL holds, NULLs, a
 * one-row batch's empty string, booleans, numbers and JSON; an upsert overwrites whole rows, and
 * RETURNING numbers the rows in their order.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { bigint, bigserial, boolean, integer, json, PgDialect, pgTable, text } from "drizzle-orm/pg-core";
import type { SQL } from "drizzle-orm";
import fc from "fast-check";
import { recordsetInsert } from "../../src/control/store/postgres/recordset.js";
import { type PostgresServer, postgresSuite } from "../e2e/postgres-server.js";

const probe = pgTable("recordset_probe", {
  seq: bigserial("seq", { mode: "number" }).primaryKey(),
  key: text("key").notNull().unique(),
  label: text("label"),
  note: text("note").notNull(),
  at: bigint("at", { mode: "number" }),
  count: integer("count").notNull(),
  on: boolean("on").notNull(),
  doc: json("doc"),
});
const CREATE = `CREATE TABLE recordset_probe (seq bigserial PRIMARY KEY, key text NOT NULL UNIQUE, label text, note text NOT NULL, at bigint, count integer NOT NULL, "on" boolean NOT NULL, doc json)`;

type Row = Omit<typeof probe.$inferSelect, "seq">;
const APPEND = recordsetInsert(probe, { omit: ["seq"], returning: ["seq"] });
const UPSERT = recordsetInsert(probe, { omit: ["seq"], conflict: "key" });
const DIALECT = new PgDialect();

/** The separator and the NULL mark (recordset.ts), and what SQL or JSON could mangle. */
const AWKWARD = ["\x1e", "\x1f", "a\x1eb", "\x1f\x1f", "", "'", '"', "\\", "$1", "\n", "\u2028", "𝄞"];
/** What the rows' strings hold: neither; the NULL mark (alone, too) but never the separator; both. */
const MODES = {
  "neither the separator nor the NULL mark": [],
  "the NULL mark": AWKWARD.filter((a) => !a.includes("\x1e")),
  "the separator and the NULL mark": AWKWARD,
} as const satisfies Record<string, readonly string[]>;
/** Any character PostgreSQL's text holds (not NUL), the awkward ones often. */
const anyText = (awkward: readonly string[]) =>
  fc.string({ unit: awkward.length > 0 ? fc.oneof(fc.constantFrom(...awkward), fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 })) : "grapheme", maxLength: 12 });
/** JSON as PostgreSQL's json keeps it: without NUL (\u0000), read back as JSON.parse reads the text. */
const anyDoc = fc.jsonValue({ maxDepth: 3 }).filter((v) => !JSON.stringify(v).includes("\\u0000")).map((v) => JSON.parse(JSON.stringify(v)) as unknown);

const rowsOf = (awkward: readonly string[]) =>
  fc.uniqueArray(
    fc.record({
      key: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 8 }),
      label: fc.option(anyText(awkward), { nil: null }),
      note: anyText(awkward),
      at: fc.option(fc.integer({ min: 0, max: 2 ** 52 }), { nil: null }),
      count: fc.integer(),
      on: fc.boolean(),
      doc: fc.option(anyDoc, { nil: null }),
    }),
    { selector: (r) => r.key, minLength: 1, maxLength: 40 },
  );

const pg = postgresSuite("the PostgreSQL row statements");
let server: PostgresServer | undefined;
let db: InstanceType<typeof Bun.SQL>;
beforeAll(async () => {
  if (pg.skip) return;
  server = await pg.start();
  db = new Bun.SQL(await server.createDatabase("recordset"));
  await db.unsafe(CREATE);
});
afterAll(async () => {
  await db?.close();
  server?.remove();
});

const run = (statement: SQL) => {
  const q = DIALECT.sqlToQuery(statement);
  return db.unsafe(q.sql, q.params as unknown[]) as Promise<Array<Record<string, unknown>>>;
};
const byColumn = (statement: SQL) => DIALECT.sqlToQuery(statement).sql.includes("string_to_array");

async function stored(): Promise<Row[]> {
  const rows = await db.unsafe(`SELECT key, label, note, at, count, "on", doc FROM recordset_probe ORDER BY seq`);
  return rows.map((r: Row & { at: string | null }) => ({ ...r, at: r.at === null ? null : Number(r.at) }));
}

for (const [mode, awkward] of Object.entries(MODES)) {
  test.skipIf(pg.skip)(`any rows, ${mode} among their strings, read back as given, appended in order and overwritten whole`, async () => {
    await fc.assert(
      fc.asyncProperty(rowsOf(awkward), rowsOf(awkward), async (first, second) => {
        await db.unsafe("TRUNCATE recordset_probe RESTART IDENTITY");
        const append = APPEND(first);
        if (awkward.length === 0) expect(byColumn(append)).toBe(true);
        const seqs = (await run(append)).map((r) => Number(r.seq));
        expect(seqs).toEqual(first.map((_, i) => i + 1));
        expect(await stored()).toEqual(first);
        await run(UPSERT(second));
        const overwritten = new Map(second.map((r) => [r.key, r]));
        const kept = first.map((r) => overwritten.get(r.key) ?? r);
        const added = second.filter((r) => !first.some((f) => f.key === r.key));
        expect(await stored()).toEqual([...kept, ...added]);
      }),
      { numRuns: 40 },
    );
  });
}

test.skipIf(pg.skip)("a batch goes by column unless a string holds the separator or is exactly the NULL mark; one row's empty string and NULLs read back", async () => {
  const row = (note: string, label: string | null = null): Row => ({ key: `k${note.length}${label ?? ""}`, label, note, at: null, count: 0, on: false, doc: null });
  expect(byColumn(APPEND([row("")]))).toBe(true);
  expect(byColumn(APPEND([row("fine", "\x1f-not-only")]))).toBe(true);
  expect(byColumn(APPEND([row("a\x1eb")]))).toBe(false);
  expect(byColumn(APPEND([row("x", "\x1f")]))).toBe(false);
  // JSON's text never holds either raw: a json column's strings never send a batch as JSON.
  expect(byColumn(APPEND([{ ...row("y"), doc: { "\x1e": "\x1f" } }]))).toBe(true);
  await db.unsafe("TRUNCATE recordset_probe RESTART IDENTITY");
  const rows = [row(""), row("\x1f", ""), { ...row("zz"), doc: ["\x1e"] }];
  for (const r of rows) await run(APPEND([r]));
  expect(await stored()).toEqual(rows);
});
