/**
 * The shell around a data dir, in process: the lock refuses a second holder by pid and is free
 * again once released; openClusterStore carries out the identity decisions that the e2e test
 * does not reach (an upgraded data dir adopting an id, a lost cluster-id file restored, another
 * cluster's database refused) and --reinitialize moves a database aside rather than deleting it.
 */
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../../src/core/logger.js";
import { clusterIdFile, ClusterStoreRefused, openClusterStore } from "../../src/control/cluster-store.js";
import { DataDirInUse, lockDataDir } from "../../src/control/data-dir-lock.js";
import { Store } from "../../src/control/store/store.js";

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

const open = (dir: string, freshId: string, reinitialize = false) => openClusterStore(dir, { reinitialize, log: silent, now: 0, freshId });

test("the lock refuses a second holder, naming this process, and is free once released", () => {
  const dir = tempDir();
  const lock = lockDataDir(dir, Date.parse("2026-01-01T12:00:01Z"));
  let refusal: unknown;
  try {
    lockDataDir(dir, 0);
  } catch (err) {
    refusal = err;
  }
  expect(refusal).toBeInstanceOf(DataDirInUse);
  expect((refusal as Error).message).toContain(`(pid ${process.pid} on `);
  expect((refusal as Error).message).toContain("started 2026-01-01T12:00:01.000Z");
  lock.release();
  lock.release();
  lockDataDir(dir, 0).release();
});

test("a data dir from before cluster ids adopts one; a lost cluster-id file is restored from the database", () => {
  const dir = tempDir();
  const old = new Store(dir);
  old.sqlite.query("INSERT INTO meta (key, value) VALUES ('next_instance_seq', '7')").run();
  old.close();
  open(dir, "adopted").close();
  expect(readFileSync(clusterIdFile(dir), "utf8").trim()).toBe("adopted");

  unlinkSync(clusterIdFile(dir));
  const store = open(dir, "unused");
  expect(store.clusterId()).toBe("adopted");
  expect(store.load().nextInstanceSeq).toBe(7);
  store.close();
  expect(readFileSync(clusterIdFile(dir), "utf8").trim()).toBe("adopted");
});

test("another cluster's database is refused; --reinitialize moves it aside and keeps the data dir's id", () => {
  const dir = tempDir();
  open(dir, "ours").close();
  const foreign = new Store(dir);
  foreign.recordClusterId("theirs");
  foreign.close();
  expect(() => open(dir, "unused")).toThrow(new ClusterStoreRefused(`${join(dir, "tessera.db")} belongs to another cluster (theirs; this data dir is cluster ours); put this cluster's database back, or start with --reinitialize to move it aside and start this cluster over with an empty state (keeping its CA and tokens)`));

  const fresh = open(dir, "unused", true);
  expect(fresh.clusterId()).toBe("ours");
  fresh.close();
  // Nothing deleted: the other cluster's database is beside, whole.
  const aside = readdirSync(dir).find((f) => /^tessera\.db\.replaced-[^.]+$/.test(f));
  const moved = new Database(join(dir, aside!));
  expect(moved.query("SELECT value FROM meta WHERE key = 'cluster_id'").get()).toEqual({ value: "theirs" });
  moved.close();
});
