/**
 * `tessera control --restore FILE`: a snapshot file (snapshot-file.ts) put in place before the
 * control plane opens its store. A SQLite snapshot's files go into an empty data dir; a
 * PostgreSQL snapshot's rows into an empty database (`--store`), in one transaction. Each
 * refuses the other's snapshot, a damaged or truncated file, a store that already holds a
 * cluster, and (PostgreSQL, before writing anything) a data dir recorded as another cluster's.
 * Imperative shell.
 */
import { existsSync, readFileSync } from "node:fs";
import { readSnapshot, restoreSnapshot, type SnapshotHeader, storeOf } from "../store/snapshot-file.js";
import { CaSecretMismatch, openCaKey } from "../security/ca-seal.js";
import { CA_SECRET_MISMATCH } from "../security/ca-source.js";
import { rowsOf } from "../store/postgres/snapshot.js";
import { PostgresStore, redactUrl } from "../store/postgres/store.js";
import { clusterIdFile } from "./cluster-store.js";

/**
 * Restores `file` for a control plane on `dataDir` and, given one, the PostgreSQL database at
 * `storeUrl`; throws saying what is wrong. Given the CA secret, a PostgreSQL snapshot whose CA
 * it does not open is refused before anything is written (the control plane could not start on it).
 */
export async function restoreFromSnapshot(file: string, dataDir: string, storeUrl: string | undefined, caSecret?: string): Promise<SnapshotHeader> {
  if (storeUrl === undefined) return restoreSnapshot(file, dataDir);
  const { meta, files } = readSnapshot(file);
  const db = `--store ${redactUrl(storeUrl)}`;
  if (storeOf(meta) !== "postgres") throw new Error(`--restore: ${file} is a snapshot of a SQLite data dir: restore it without --store, into an empty --data-dir`);
  const idFile = clusterIdFile(dataDir);
  const dirId = existsSync(idFile) ? readFileSync(idFile, "utf8").trim() : "";
  if (dirId !== "" && dirId !== meta.clusterId) {
    throw new Error(`--restore: ${file} is cluster ${meta.clusterId}'s, but ${dataDir} belongs to cluster ${dirId} (${idFile}); restore with an empty --data-dir`);
  }
  let rows: ReturnType<typeof rowsOf>;
  try {
    rows = rowsOf(files);
  } catch (err) {
    throw new Error(`${file}: damaged: ${(err as Error).message}`);
  }
  const sealedKey = rows.get("cluster_ca")?.[0]?.sealedKey;
  if (caSecret !== undefined && typeof sealedKey === "string") {
    await openCaKey(sealedKey, caSecret).catch((err: unknown) => {
      throw err instanceof CaSecretMismatch ? new Error(`--restore: ${file}: ${CA_SECRET_MISMATCH}`) : err;
    });
  }
  let store: PostgresStore;
  try {
    store = await PostgresStore.open(storeUrl);
  } catch (err) {
    throw new Error(`--restore: ${db}: cannot use the database: ${(err as Error).message}`);
  }
  try {
    const occupied = await store.restore(rows);
    if (occupied.length > 0) throw new Error(`--restore: ${db} already holds Tessera's tables with rows (${occupied.join(", ")}); restore into an empty database`);
  } finally {
    await store.close();
  }
  return meta;
}
