/**
 * The stores the store tests run against: SQLite in a temporary data dir, and PostgreSQL on a
 * private server (test/e2e/postgres-server.ts) started once per file, a new database per store.
 * PostgreSQL skips visibly where it is not installed, and fails under TESSERA_CI=1.
 */
import { afterAll, beforeAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PostgresLease } from "../../src/control/store/postgres/lease.js";
import { PostgresStore } from "../../src/control/store/postgres/store.js";
import type { Retention } from "../../src/control/store/retention.js";
import { SqliteStore } from "../../src/control/store/sqlite/store.js";
import type { Store } from "../../src/control/store/store.js";
import { type PostgresServer, postgresSuite } from "../e2e/postgres-server.js";

export interface FreshStore {
  store: Store;
  /** Another store on the same database (a restart's, to read: on PostgreSQL writes need the lease). */
  reopen(): Promise<Store>;
}

export interface Backend {
  name: "sqlite" | "postgres";
  skip: boolean;
  /** A store on a new, empty database. */
  fresh(retention?: Partial<Retention>): Promise<FreshStore>;
}

/** A PostgreSQL store holding the lease (long enough for any test): its commits pass the fence. */
export async function leading(url: string, retention?: Partial<Retention>): Promise<PostgresStore> {
  const store = await PostgresStore.open(url, retention);
  const lease = new PostgresLease(url, 5_000);
  try {
    const taken = await lease.take({ id: "store-tests", address: "127.0.0.1:0" }, 3_600_000);
    if (!taken) throw new Error("the store tests could not take the lease of a fresh database");
    store.fenceWith({ holder: taken.holder, epoch: taken.epoch });
  } finally {
    await lease.close();
  }
  return store;
}

/** Both backends for `what` (a file's tests); registers the PostgreSQL server's start and stop. */
export function storeBackends(what: string): Backend[] {
  const dir = mkdtempSync(join(tmpdir(), "tessera-store-"));
  const pg = postgresSuite(what);
  let server: PostgresServer | undefined;
  let databases = 0;
  beforeAll(async () => {
    if (pg.skip) return;
    server = await pg.start();
  });
  afterAll(() => {
    server?.remove();
    rmSync(dir, { recursive: true, force: true });
  });
  return [
    {
      name: "sqlite",
      skip: false,
      async fresh(retention) {
        const dataDir = mkdtempSync(join(dir, "db-"));
        return { store: new SqliteStore(dataDir, retention), reopen: async () => new SqliteStore(dataDir, retention) };
      },
    },
    {
      name: "postgres",
      skip: pg.skip,
      async fresh(retention) {
        const url = await server!.createDatabase(`store_${++databases}`);
        return { store: await leading(url, retention), reopen: () => PostgresStore.open(url, retention) };
      },
    },
  ];
}
