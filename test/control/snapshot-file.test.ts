/**
 * Taking a snapshot of a SQLite data dir (snapshot-file.ts), in process: the copy runs on a
 * worker thread, so the thread that calls it (the writer's) goes on taking turns and committing
 * meanwhile, and the snapshot is still one commit's state, readable as a snapshot file. A
 * failure in the worker comes back as the call's error; snapshots asked for at once share the
 * copies, each begun after its callers asked.
 */
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
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

test("snapshots asked for at once share the copies: each caller gets one begun after it asked", async () => {
  const dir = tempDir();
  const store = new SqliteStore(dir);
  store.sqlite.run("INSERT INTO meta (key, value) VALUES ('cluster_id', 'c-2')");
  // Bursts of 25 at once, as the fuzz test sends them: all ask before the copy begins, so they
  // share one; it holds what was committed before they asked. A second burst asked while a
  // copy runs shares the copy after it.
  for (let burst = 0; burst < 4; burst++) {
    store.sqlite.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('burst', ?)", [String(burst)]);
    const taken = await Promise.all(Array.from({ length: 25 }, (_, i) => takeSqliteSnapshot(dir, 1_000 * burst + i)));
    expect(new Set(taken).size).toBe(1);
    expect(taken.map((s) => s.meta.clusterId)).toEqual(Array(25).fill("c-2"));
    for (const s of new Set(taken)) {
      const file = join(dir, "s.snap");
      writeFileSync(file, Buffer.concat([s.header, ...s.parts]));
      const db = Database.deserialize(readSnapshot(file).files.find((f) => f.path === "tessera.db")!.data);
      expect(db.query<{ value: string }, []>("SELECT value FROM meta WHERE key = 'burst'").get()?.value).toBe(String(burst));
      db.close();
    }
  }
  // Asked while a copy runs: a copy of its own, begun after the one running.
  const running = takeSqliteSnapshot(dir, 1);
  await Bun.sleep(0);
  const [a, b] = await Promise.all([takeSqliteSnapshot(dir, 2), takeSqliteSnapshot(dir, 3)]);
  expect(a).toBe(b!);
  expect(a).not.toBe(await running);
  await store.close();
});
