/**
 * Opens the cluster's store (SQLite in the data dir, or PostgreSQL with `--store`) only if it
 * belongs to the data dir's cluster: gathers what core/cluster-identity.ts decides on, and
 * carries its decision out (records the id, moves a SQLite database aside for
 * `--reinitialize`, or refuses with the database named and what to do).
 * Imperative shell; the caller holds the data dir's lock.
 */
import { existsSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { decideIdentity, type IdentityFindings, type IdentityRefusal } from "../../core/ha/cluster-identity.js";
import type { Logger } from "../../shell/logger.js";
import { pkiFiles } from "../security/pki.js";
import { tokenFile } from "../security/tokens.js";
import { PostgresStore, redactUrl } from "../store/postgres/store.js";
import { SqliteStore } from "../store/sqlite/store.js";
import type { Store } from "../store/store.js";
import { writeSecret } from "../../shell/write-secret.js";

/** A database's write-ahead log and shared-memory index: they go wherever it goes. */
const SIDE_FILES = ["-wal", "-shm"];

export function clusterIdFile(dataDir: string): string {
  return join(dataDir, "cluster-id");
}

/** Refusal to start on a database that is not this cluster's, or cannot be read. */
export class ClusterStoreRefused extends Error {}

/** SQLite's words for a file that is damaged or not a database at all. */
function isDamage(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && (code.startsWith("SQLITE_CORRUPT") || code.startsWith("SQLITE_NOTADB"));
}

type Found = { store: Store; id: string | undefined; hasState: boolean } | { damage: string };

/** The data dir's SQLite database and what it holds, or why it cannot be read. */
async function inspectSqlite(dataDir: string): Promise<Found> {
  let store: SqliteStore | undefined;
  try {
    store = new SqliteStore(dataDir);
    const damage = store.damage();
    if (damage !== undefined) {
      await store.close();
      return { damage };
    }
    return { store, id: await store.clusterId(), hasState: await store.hasState() };
  } catch (err) {
    await store?.close();
    if (isDamage(err)) return { damage: (err as Error).message };
    throw new ClusterStoreRefused(`cannot open ${join(dataDir, "tessera.db")}: ${(err as Error).message}`);
  }
}

/** The PostgreSQL database and what it holds; one that cannot be reached or migrated is refused. */
async function inspectPostgres(url: string): Promise<Found> {
  let store: PostgresStore;
  try {
    store = await PostgresStore.open(url);
  } catch (err) {
    throw new ClusterStoreRefused(`--store ${redactUrl(url)}: cannot use the database: ${(err as Error).message}`);
  }
  return { store, id: await store.clusterId(), hasState: await store.hasState() };
}

function readId(file: string): string | undefined {
  return existsSync(file) ? readFileSync(file, "utf8").trim() || undefined : undefined;
}

/** What to do about a refused database; `--reinitialize` moves it aside, it deletes nothing. */
const REINITIALIZE = "start with --reinitialize to move it aside and start this cluster over with an empty state (keeping its CA and tokens)";
const WHAT_TO_DO = `restore the cluster's database from a backup, or ${REINITIALIZE}`;

/** A refusal as the operator reads it: the database, what is wrong, what to do. */
function describe(refusal: IdentityRefusal, db: string, dataDir: string, damage: string | undefined): string {
  switch (refusal.type) {
    case "DatabaseLostIdentity":
      return `${db} does not hold the state of cluster ${refusal.dirId} (recorded in ${clusterIdFile(dataDir)}): the database was emptied or replaced; ${WHAT_TO_DO}`;
    case "EmptyDatabaseBesideCluster":
      return `${db} is empty but ${dataDir} holds a cluster's CA and tokens: the database was emptied or lost; ${WHAT_TO_DO}`;
    case "ForeignDatabase":
      return `${db} belongs to another cluster (${refusal.dbId}; this data dir is cluster ${refusal.dirId}); put this cluster's database back, or ${REINITIALIZE}`;
    case "DatabaseUnreadable":
      return `${db} cannot be read (${damage}): it is damaged or not a Tessera database; ${WHAT_TO_DO}`;
  }
}

/**
 * Moves the database aside, deleting nothing. Its WAL keeps its name's pattern (NAME-wal), so
 * SQLite opening the moved file still finds the commits not yet checkpointed into it.
 */
function moveAside(dataDir: string, now: number): string {
  const db = join(dataDir, "tessera.db");
  const aside = `${db}.replaced-${new Date(now).toISOString().replace(/[:.]/g, "-")}`;
  for (const side of ["", ...SIDE_FILES]) if (existsSync(`${db}${side}`)) renameSync(`${db}${side}`, `${aside}${side}`);
  return aside;
}

export interface OpenClusterStoreOptions {
  /** A postgres:// URL (`--store`); SQLite in the data dir without it. */
  store?: string;
  reinitialize: boolean;
  log: Logger;
  now: number;
  /** A new cluster id, should one be needed. */
  freshId: string;
}

/** The cluster's store, once its database is known to be this cluster's; throws ClusterStoreRefused otherwise. */
export async function openClusterStore(dataDir: string, opts: OpenClusterStoreOptions): Promise<Store> {
  const idFile = clusterIdFile(dataDir);
  const found = opts.store === undefined ? await inspectSqlite(dataDir) : await inspectPostgres(opts.store);
  const location = opts.store === undefined ? join(dataDir, "tessera.db") : `--store ${redactUrl(opts.store)}`;
  const findings: IdentityFindings = {
    dirId: readId(idFile),
    database: "damage" in found ? "unreadable" : { id: found.id, hasState: found.hasState },
    dirHasCredentials: [pkiFiles(dataDir).caCert, tokenFile(dataDir, "admin"), tokenFile(dataDir, "join")].some((f) => existsSync(f)),
    reinitialize: opts.reinitialize,
    freshId: opts.freshId,
  };
  const decision = decideIdentity(findings);
  const store = "store" in found ? found.store : undefined;
  switch (decision.type) {
    case "Go":
      if (opts.reinitialize) opts.log.warn("--reinitialize ignored: the database belongs to this data dir's cluster and is kept", { cluster: decision.id });
      return store!;
    case "Record": {
      let id = decision.id;
      if (decision.inDatabase) {
        await store!.recordClusterId(id);
        // On a shared database another control plane starting at the same moment may have recorded its id first: that one is the cluster's.
        id = (await store!.clusterId()) ?? id;
      }
      if (decision.inDir) writeSecret(idFile, `${id}\n`);
      opts.log.info("cluster id recorded", { cluster: id, file: decision.inDir ? idFile : undefined, database: decision.inDatabase });
      return store!;
    }
    case "StartOver": {
      await store?.close();
      if (opts.store !== undefined) {
        throw new ClusterStoreRefused(`--reinitialize works on the data dir's SQLite database only; to start over on ${location}, drop its tables (or give --store an empty database)`);
      }
      const aside = moveAside(dataDir, opts.now);
      const fresh = new SqliteStore(dataDir);
      await fresh.recordClusterId(decision.id);
      if (decision.inDir) writeSecret(idFile, `${decision.id}\n`);
      opts.log.warn("started the cluster over with an empty state (--reinitialize)", { cluster: decision.id, was: decision.overrides.type, movedAside: aside });
      return fresh;
    }
    case "Refuse":
      await store?.close();
      throw new ClusterStoreRefused(describe(decision.refusal, location, dataDir, "damage" in found ? found.damage : undefined));
  }
}
