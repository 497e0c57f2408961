/**
 * Snapshots of the PostgreSQL store (postgres/snapshot.ts) against a private server: taken
 * while the leader commits a storm of applies, the file holds one snapshot of the database
 * (every workload acknowledged before it began, and no gap after), and restored into a fresh
 * database (lifecycle/restore-snapshot.ts) it loads as that state: the cluster's id, its tokens'
 * hashes, its CA row with the key still sealed, the event log's sequence carried on. A database
 * that holds rows, a truncated file, another store's snapshot, a data dir of another cluster and
 * a CA secret that does not open the CA are refused, naming the problem, before anything is written.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { SQL } from "bun";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "../../src/core/decide/commands.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { runTurn } from "../../src/core/reconcile/turn.js";
import { restoreFromSnapshot } from "../../src/control/lifecycle/restore-snapshot.js";
import { sealCaKey } from "../../src/control/security/ca-seal.js";
import { hashToken } from "../../src/control/security/tokens.js";
import { PostgresStore } from "../../src/control/store/postgres/store.js";
import { readSnapshot } from "../../src/control/store/snapshot-file.js";
import { SqliteStore } from "../../src/control/store/sqlite/store.js";
import { spec } from "../core/fixtures.js";
import { eventually } from "../e2e/harness.js";
import { type PostgresServer, postgresSuite } from "../e2e/postgres-server.js";
import { leading } from "./store-backends.js";

const SECRET = "postgres snapshot test CA secret";
const pg = postgresSuite("snapshots of the PostgreSQL store");
let server: PostgresServer | undefined;
let databases = 0;
const dir = mkdtempSync(join(tmpdir(), "tessera-pg-snapshot-"));
const opened: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  if (pg.skip) return;
  server = await pg.start();
});
afterAll(async () => {
  for (const o of opened.reverse()) await o.close();
  server?.remove();
  rmSync(dir, { recursive: true, force: true });
});

const database = () => server!.createDatabase(`snap_${++databases}`);
const apply = (name: string): Command => ({ type: "ApplyWorkload", name, labels: {}, spec: spec({ replicas: 0 }) });
const names = async (store: PostgresStore) => [...(await store.load()).workloads.keys()].sort();
const ordered = (n: number) => Array.from({ length: n }, (_, i) => `w-${i}`).sort();

/** A cluster on a fresh database: its leader's store, id, CA row and a token; `turn` commits one writer turn. */
async function cluster() {
  const url = await database();
  const store = await leading(url);
  opened.push(store);
  await store.recordClusterId("cluster-a");
  await store.clusterCa(async () => ({ cert: "CA CERT", sealedKey: await sealCaKey("CA KEY", SECRET) }));
  const state = await store.load();
  let now = 1_000_000;
  const turn = async (commands: Command[]) => {
    now += 1_000;
    return store.commit(runTurn(state, commands, { now, policy: DEFAULT_POLICY, reconcile: true }).events, state);
  };
  await turn([{ type: "IssueToken", kind: "admin", hash: hashToken("tessera-admin-x"), by: "test" }]);
  return { url, store, turn };
}

/** A snapshot taken while the leader commits one apply per turn: the names acknowledged before it began, and the file. */
async function savedDuringStorm(): Promise<{ before: string[]; file: string; url: string; store: PostgresStore }> {
  const { url, store, turn } = await cluster();
  const acknowledged: string[] = [];
  let storming = true;
  const storm = (async () => {
    for (let i = 0; storming && i < 400; i++) {
      await turn([apply(`w-${i}`)]);
      acknowledged.push(`w-${i}`);
    }
  })();
  await eventually("five applies committed", () => (acknowledged.length >= 5 ? true : undefined), 20_000, 5);
  const before = [...acknowledged];
  const snapshot = await store.supports.snapshot!(Date.parse("2026-03-04T05:06:07Z"));
  storming = false;
  await storm;
  const file = join(dir, `storm-${databases}.snap`);
  writeFileSync(file, Buffer.concat([snapshot.header, ...snapshot.parts]));
  return { before, file, url, store };
}

test.skipIf(pg.skip)("saved during an apply storm and restored into a fresh database: one snapshot's state, every acknowledged workload there", async () => {
  const { before, file, store } = await savedDuringStorm();
  const { meta } = readSnapshot(file);
  expect(meta).toMatchObject({ store: "postgres", clusterId: "cluster-a", takenAt: "2026-03-04T05:06:07.000Z" });
  // Secrets stay as the database keeps them: the CA's key sealed, tokens as hashes.
  expect(readFileSync(file, "utf8")).not.toContain("CA KEY");
  expect(readFileSync(file, "utf8")).not.toContain("tessera-admin-x");

  const url = await database();
  const restoredMeta = await restoreFromSnapshot(file, join(dir, "fresh-dir"), url, SECRET);
  expect(restoredMeta.sequence).toBe(meta.sequence);
  const restored = await PostgresStore.open(url);
  opened.push(restored);
  const there = await names(restored);
  expect(there).toEqual(expect.arrayContaining(before));
  // One snapshot: applies committed in order, so what it holds is the first n of them, none missing.
  expect(there).toEqual(ordered(there.length));
  expect(await restored.clusterId()).toBe("cluster-a");
  expect(restored.history.newestSeq()).toBe(meta.sequence);
  expect((await restored.load()).tokens.has(hashToken("tessera-admin-x"))).toBe(true);
  const ca = await restored.clusterCa(async () => ({ cert: "ANOTHER", sealedKey: "ANOTHER" }));
  expect(ca).toMatchObject({ cert: "CA CERT", created: false });
  // The log goes on after the restored events: a leader's next commit takes the next sequence number.
  const lead = await leading(url);
  opened.push(lead);
  const state = await lead.load();
  const next = await lead.commit(runTurn(state, [apply("after")], { now: 9_000_000, policy: DEFAULT_POLICY, reconcile: true }).events, state);
  expect(next[0]!.seq).toBeGreaterThan(meta.sequence);
  await store.close();
});

test.skipIf(pg.skip)("tables of several pages are read whole: every row restored, the events' sequence through the last", async () => {
  const { store, turn } = await cluster();
  await turn(Array.from({ length: 2_500 }, (_, i) => apply(`w-${i}`)));
  const file = join(dir, "pages.snap");
  const snapshot = await store.supports.snapshot!(0);
  writeFileSync(file, Buffer.concat([snapshot.header, ...snapshot.parts]));
  const url = await database();
  await restoreFromSnapshot(file, join(dir, "pages-dir"), url);
  const restored = await PostgresStore.open(url);
  opened.push(restored);
  expect(await names(restored)).toEqual(ordered(2_500));
  expect(restored.history.newestSeq()).toBe(store.history.newestSeq());
  expect(readSnapshot(file).meta.sequence).toBe(store.history.newestSeq());
});

test.skipIf(pg.skip)("refused naming the problem, nothing written: a database with rows, a truncated file, another store's snapshot, another cluster's data dir, another CA secret", async () => {
  const { file, url } = await savedDuringStorm();
  const whole = readFileSync(file);
  writeFileSync(join(dir, "cut.snap"), whole.subarray(0, whole.length - 50));
  const sqliteDir = join(dir, "sqlite");
  const sqlite = new SqliteStore(sqliteDir);
  await sqlite.recordClusterId("cluster-s");
  const sqliteSnap = await sqlite.supports.snapshot!(0);
  await sqlite.close();
  writeFileSync(join(dir, "sqlite.snap"), Buffer.concat([sqliteSnap.header, ...sqliteSnap.parts]));
  mkdirSync(join(dir, "other"), { recursive: true });
  writeFileSync(join(dir, "other", "cluster-id"), "cluster-b\n");

  const fresh = await database();
  const redacted = url.replace(/^postgres:\/\//, "");
  const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
    ["a database with rows", () => restoreFromSnapshot(file, join(dir, "d1"), url), new RegExp(`--store postgres://${redacted}.* already holds Tessera's tables with rows \\(meta: \\d+ rows`)],
    ["a truncated file", () => restoreFromSnapshot(join(dir, "cut.snap"), join(dir, "d2"), fresh), /cut\.snap: truncated: its header announces/],
    ["a SQLite snapshot on PostgreSQL", () => restoreFromSnapshot(join(dir, "sqlite.snap"), join(dir, "d3"), fresh), /sqlite\.snap is a snapshot of a SQLite data dir/],
    ["a PostgreSQL snapshot on SQLite", () => restoreFromSnapshot(file, join(dir, "d4"), undefined), /is a snapshot of a PostgreSQL store: restore it with --store/],
    ["another cluster's data dir", () => restoreFromSnapshot(file, join(dir, "other"), fresh), /is cluster cluster-a's, but .*other belongs to cluster cluster-b/],
    ["another CA secret", () => restoreFromSnapshot(file, join(dir, "d5"), fresh, "not the cluster's secret at all"), /cannot decrypt the cluster CA/],
  ];
  for (const [what, run, problem] of cases) {
    const err = await run().then(() => undefined, (e: Error) => e.message);
    expect([what, err]).toEqual([what, expect.stringMatching(problem)]);
  }
  // The fresh database was refused each time before anything was written.
  const sql = new SQL(fresh);
  try {
    const tables: Array<{ n: string }> = await sql`SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'meta'`;
    if (Number(tables[0]!.n) > 0) expect(await sql`SELECT * FROM meta`).toEqual([]);
  } finally {
    await sql.close();
  }
});
