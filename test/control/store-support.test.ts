/**
 * What each store says it supports (Store.supports), which the lifecycle asks instead of the
 * store's class: on PostgreSQL a lease with standbys, and the cluster CA in the database, its
 * lease opened on the store's own database, and snapshots of its tables; on SQLite snapshots of
 * the data dir's file.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readSnapshot } from "../../src/control/store/snapshot-file.js";
import { storeBackends } from "./store-backends.js";

const [sqlite, postgres] = storeBackends("what the PostgreSQL store supports");

test("sqlite: snapshots of its file, no lease, no cluster CA in the database", async () => {
  const { store } = await sqlite!.fresh();
  expect(store.supports.lease).toBeUndefined();
  expect(store.supports.clusterCa).toBeUndefined();
  const snapshot = await store.supports.snapshot!(1_700_000_000_000);
  const dir = mkdtempSync(join(tmpdir(), "tessera-support-"));
  try {
    const file = join(dir, "s.snap");
    writeFileSync(file, Buffer.concat([snapshot.header, ...snapshot.parts]));
    expect(readSnapshot(file).files.map((f) => f.path)).toContain("tessera.db");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await store.close();
});

test.skipIf(postgres!.skip)("postgres: a lease on its own database, the cluster CA kept in it, snapshots of its tables", async () => {
  const { store } = await postgres!.fresh();
  expect((await store.supports.snapshot!(0)).parts.length).toBeGreaterThan(0);
  const shared = store.supports.lease!;
  const lease = shared.openLease(2_000);
  try {
    // The lease is on the store's database: the store tests' holder (store-backends.ts) holds it there.
    expect((await lease.survey()).lease?.holder).toBe("store-tests");
  } finally {
    await lease.close();
  }
  const ca = await store.supports.clusterCa!.clusterCa(async () => ({ cert: "CERT", sealedKey: "KEY" }));
  expect(ca).toEqual({ cert: "CERT", sealedKey: "KEY", created: true });
  await store.close();
});
