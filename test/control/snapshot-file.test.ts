/**
 * Taking a snapshot of a SQLite data dir (snapshot-file.ts), in process: the copy runs on a
 * worker thread, so the thread that calls it (the writer's) goes on taking turns and committing
 * meanwhile, and the snapshot is still one commit's state, readable as a snapshot file. A
 * failure in the worker comes back as the call's error; snapshots asked for at once are each
 * taken, one after another.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readSnapshot, takeSqliteSnapshot } from "../../src/control/store/snapshot-file.js";
import { SqliteStore } from "../../src/control/store/sqlite/store.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tessera-snapshot-file-"));
  dirs.push(dir);
  return dir;
}

test("the copy runs off the calling thread: writes commit on it while the snapshot is taken, and the snapshot holds one commit's state", async () => {
  const dir = tempDir();
  const store = new SqliteStore(dir);
  const db = store.sqlite;
  db.run("INSERT INTO meta (key, value) VALUES ('cluster_id', 'c-1')");
  // Some megabytes, so the copy is not over before anything else could happen.
  db.run("CREATE TABLE filler (n INTEGER, data BLOB)");
  const blob = new Uint8Array(64 * 1024);
  db.transaction(() => {
    for (let n = 0; n < 200; n++) db.run("INSERT INTO filler VALUES (?, ?)", [n, blob]);
  })();

  let committed = 0;
  let taking = true;
  const writer = (async () => {
    while (taking) {
      db.run("INSERT INTO filler VALUES (?, ?)", [-1, new Uint8Array(16)]);
      committed++;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  })();
  const before = committed;
  const snapshot = await takeSqliteSnapshot(dir, Date.parse("2026-01-02T03:04:05Z"));
  const during = committed - before;
  taking = false;
  await writer;
  await store.close();

  expect(during).toBeGreaterThan(0);
  const file = join(dir, "out.snap");
  writeFileSync(file, Buffer.concat([snapshot.header, ...snapshot.parts]));
  const { meta, files } = readSnapshot(file);
  expect(meta.clusterId).toBe("c-1");
  expect(meta.takenAt).toBe("2026-01-02T03:04:05.000Z");
  expect(files.map((f) => f.path)).toEqual(["tessera.db"]);
});

test("a failure in the worker is the call's error", async () => {
  await expect(takeSqliteSnapshot(join(tempDir(), "missing"), 0)).rejects.toThrow(/unable to open database/);
});

test("snapshots asked for at once are all taken, one after another", async () => {
  const dir = tempDir();
  const store = new SqliteStore(dir);
  store.sqlite.run("INSERT INTO meta (key, value) VALUES ('cluster_id', 'c-2')");
  // Bursts of 25 at once, as the fuzz test sends them: each caller gets its own snapshot.
  for (let burst = 0; burst < 4; burst++) {
    const taken = await Promise.all(Array.from({ length: 25 }, (_, i) => takeSqliteSnapshot(dir, i)));
    expect(taken.map((s) => [s.meta.clusterId, s.meta.takenAt])).toEqual(Array.from({ length: 25 }, (_, i) => ["c-2", new Date(i).toISOString()]));
  }
  await store.close();
});
