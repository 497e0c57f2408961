/**
 * The shell around a data dir, in process: the lock refuses a second holder by pid and is free
 * again once released; openClusterStore carries out the identity decisions that the e2e test
 * does not reach (an upgraded data dir adopting an id, a lost cluster-id file restored, another
 * cluster's database refused) and --reinitialize moves a database aside rather than deleting it.
 */
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../../src/shell/logger.js";
import { clusterIdFile, ClusterStoreRefused, openClusterStore } from "../../src/control/lifecycle/cluster-store.js";
import { SqliteStore } from "../../src/control/store/sqlite/store.js";
import { DataDirInUse, lockDataDir } from "../../src/shell/data-dir-lock.js";
import { postgresSuite } from "../e2e/postgres-server.js";

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tessera-datadir-"));
  dirs.push(dir);
  return dir;
}

const open = (dir: string, freshId: string, reinitialize = false, store?: string) => openClusterStore(dir, { store, reinitialize, log: silent, now: 0, freshId });

test("the lock refuses a second holder, naming this process, and is free once released", () => {
  const dir = tempDir();
  const lock = lockDataDir(dir, "control plane", Date.parse("2026-01-01T12:00:01Z"));
  let refusal: unknown;
  try {
    lockDataDir(dir, "control plane", 0);
  } catch (err) {
    refusal = err;
  }
  expect(refusal).toBeInstanceOf(DataDirInUse);
  expect((refusal as Error).message).toContain(`(pid ${process.pid} on `);
  expect((refusal as Error).message).toContain("started 2026-01-01T12:00:01.000Z");
  lock.release();
  lock.release();
  lockDataDir(dir, "control plane", 0).release();
});

test("an agent's lock is a file of its own: it shares a data dir with a control plane (tessera dev), never with another agent", () => {
  const dir = tempDir();
  const control = lockDataDir(dir, "control plane", 0);
  const agent = lockDataDir(dir, "agent", Date.parse("2026-01-01T12:00:02Z"));
  expect(() => lockDataDir(dir, "agent", 0)).toThrow(
    new DataDirInUse(dir, "agent", { pid: process.pid, host: hostname(), startedAt: "2026-01-01T12:00:02.000Z" }),
  );
  expect(() => lockDataDir(dir, "agent", 0)).toThrow("each agent on a host needs its own");
  agent.release();
  control.release();
});

test("a data dir from before cluster ids adopts one; a lost cluster-id file is restored from the database", async () => {
  const dir = tempDir();
  const old = new SqliteStore(dir);
  old.sqlite.query("INSERT INTO meta (key, value) VALUES ('next_instance_seq', '7')").run();
  await old.close();
  await (await open(dir, "adopted")).close();
  expect(readFileSync(clusterIdFile(dir), "utf8").trim()).toBe("adopted");

  unlinkSync(clusterIdFile(dir));
  const store = await open(dir, "unused");
  expect(await store.clusterId()).toBe("adopted");
  expect((await store.load()).nextInstanceSeq).toBe(7);
  await store.close();
  expect(readFileSync(clusterIdFile(dir), "utf8").trim()).toBe("adopted");
});

test("another cluster's database is refused; --reinitialize moves it aside and keeps the data dir's id", async () => {
  const dir = tempDir();
  await (await open(dir, "ours")).close();
  const foreign = new SqliteStore(dir);
  await foreign.recordClusterId("theirs");
  await foreign.close();
  await expect(open(dir, "unused")).rejects.toThrow(new ClusterStoreRefused(`${join(dir, "tessera.db")} belongs to another cluster (theirs; this data dir is cluster ours); put this cluster's database back, or start with --reinitialize to move it aside and start this cluster over with an empty state (keeping its CA and tokens)`));

  const fresh = await open(dir, "unused", true);
  expect(await fresh.clusterId()).toBe("ours");
  await fresh.close();
  // Nothing deleted: the other cluster's database is beside, whole.
  const aside = readdirSync(dir).find((f) => /^tessera\.db\.replaced-[^.]+$/.test(f));
  const moved = new Database(join(dir, aside!));
  expect(moved.query("SELECT value FROM meta WHERE key = 'cluster_id'").get()).toEqual({ value: "theirs" });
  moved.close();
});

const pg = postgresSuite("the data dir's identity checks on PostgreSQL");

test.skipIf(pg.skip)("--store: an unreachable or malformed database is refused naming --store; another cluster's is refused; --reinitialize does not touch it", async () => {
  const server = await pg.start();
  try {
    const dir = tempDir();
    await expect(open(dir, "ours", false, `postgres://postgres@127.0.0.1:${server.port}/missing`)).rejects.toThrow(/^--store postgres:\/\/postgres@127\.0\.0\.1:\d+\/missing: cannot use the database: .*missing/);
    const ours = await open(dir, "ours", false, server.url);
    expect(await ours.clusterId()).toBe("ours");
    await ours.close();
    // Another cluster's data dir pointed at the same database.
    const other = tempDir();
    await (await open(other, "theirs")).close();
    await expect(open(other, "theirs", false, server.url)).rejects.toThrow(/^--store postgres:\/\/postgres@127\.0\.0\.1:\d+\/tessera belongs to another cluster \(ours; this data dir is cluster theirs\)/);
    // No aside for a database elsewhere: --reinitialize is refused with what to do instead.
    await expect(open(other, "theirs", true, server.url)).rejects.toThrow("--reinitialize works on the data dir's SQLite database only");
  } finally {
    server.remove();
  }
});
