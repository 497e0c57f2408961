/**
 * Snapshot files (`tessera ctl snapshot save`, `tessera control --restore`): one header line,
 * `tessera-snapshot 1 {JSON}`, naming the store it was taken of, the cluster, the sequence of
 * the newest event inside, when it was taken, the files that follow (their paths and sizes)
 * and the SHA-256 of all of them; then those files' bytes, one after another. On SQLite they
 * are the database as of one commit, the cluster CA and the token files: a data dir restored
 * from it is the cluster's, so its agents' certificates and its tokens keep working. On
 * PostgreSQL they are Tessera's tables, one JSON-lines file each (postgres/snapshot.ts): the
 * CA's key stays sealed in them and tokens are hashes, so the file holds no secret in the clear.
 */
import { Database } from "bun:sqlite";
import { createHash, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const MAGIC = "tessera-snapshot 1 ";
/** What a SQLite data dir's snapshot holds besides the database, when present. */
// secrets.key: the cluster key the database's secrets are sealed with (security/secret-seal.ts).
const SECRET_FILES = ["pki/ca.pem", "pki/ca.key", "admin-token", "join-token", "secrets.key"];

/** The store a snapshot was taken of; files written before PostgreSQL's had no `store` and are SQLite's. */
export type SnapshotStore = "sqlite" | "postgres";

export interface SnapshotHeader {
  /** Absent in files written before PostgreSQL could be snapshotted: "sqlite". */
  store?: SnapshotStore;
  clusterId: string;
  /** The newest event's sequence in the snapshot (0: none). */
  sequence: number;
  /** ISO 8601. */
  takenAt: string;
  files: Array<{ path: string; bytes: number }>;
  /** SHA-256 (hex) of every file's bytes, in order. */
  sha256: string;
}

/** A snapshot: its header line and the files' bytes, in the order the header names them. */
export interface Snapshot {
  header: Uint8Array;
  parts: Uint8Array[];
  meta: SnapshotHeader;
}

/** What the main thread asks the snapshot worker (snapshot-worker.ts), and what it answers. */
export interface SnapshotRequest {
  dataDir: string;
  now: number;
}
export type SnapshotReply = { ok: Snapshot } | { error: string };

/**
 * The worker's script. In the compiled binary it is an entrypoint of its own (cli/build.ts),
 * embedded under its path from the repository's root, which a relative specifier names there;
 * this module is then a chunk at the embedded root, so a URL relative to it would miss.
 */
const WORKER_ENTRY = import.meta.url.startsWith("file:///$bunfs/") ? "./src/control/store/snapshot-worker.ts" : new URL("./snapshot-worker.ts", import.meta.url).href;

/** The worker, while snapshots are asked for: one serves a burst of them, and goes when none waits. */
let worker: Worker | undefined;
/** The last snapshot asked for: the next is taken after it (two copies at once would only contend for the database). */
let last: Promise<unknown> = Promise.resolve();
/** Per data dir, the snapshot asked for but not begun: who asks now shares it (it begins after their asking). */
const queued = new Map<string, Promise<Snapshot>>();
let waiting = 0;

/**
 * A consistent snapshot of a SQLite data dir, taken on a worker thread. VACUUM INTO on a
 * reading connection copies one committed state and holds no lock against the writer, but
 * bun:sqlite is synchronous: on the main thread the copy (and the reads and hash after it)
 * would hold the writer's turns for as long as they take, seconds for a large store.
 */
export function takeSqliteSnapshot(dataDir: string, now: number): Promise<Snapshot> {
  waiting++;
  let taken = queued.get(dataDir);
  if (taken === undefined) {
    // Begins once the one before it ends; until then every caller of this data dir joins it,
    // since it is taken after each of them asked (25 at once cost two copies, not 25).
    taken = last.then(() => {
      queued.delete(dataDir);
      return askWorker({ dataDir, now });
    });
    queued.set(dataDir, taken);
    last = taken.catch(() => {});
  }
  return taken.finally(() => {
    if (--waiting > 0) return;
    worker?.terminate();
    worker = undefined;
  });
}

/** One snapshot from the worker (started if none runs); a worker that failed is not asked again. */
function askWorker(request: SnapshotRequest): Promise<Snapshot> {
  const w = (worker ??= new Worker(WORKER_ENTRY));
  return new Promise<Snapshot>((resolve, reject) => {
    w.onmessage = (event: MessageEvent<SnapshotReply>) => {
      const reply = event.data;
      if ("ok" in reply) resolve(reply.ok);
      else reject(new Error(reply.error));
    };
    w.onerror = (event) => {
      if (worker === w) worker = undefined;
      w.terminate();
      reject(new Error(`the snapshot worker failed: ${event.message}`));
    };
    w.postMessage(request);
  });
}

/** The snapshot itself, synchronous: run by the snapshot worker, never on the writer's thread. */
export function copySqliteSnapshot(dataDir: string, now: number): Snapshot {
  const copy = join(dataDir, `snapshot-${randomUUID()}.db.tmp`);
  try {
    const reader = new Database(join(dataDir, "tessera.db"), { readonly: true });
    try {
      // A checkpoint of the writer's may hold the WAL for a moment: wait for it here, off its thread.
      reader.run("PRAGMA busy_timeout = 5000");
      reader.run("VACUUM INTO ?", [copy]);
    } finally {
      reader.close();
    }
    const db = new Database(copy, { readonly: true });
    const sequence = db.query<{ seq: number | null }, []>("SELECT max(seq) AS seq FROM events").get()?.seq ?? 0;
    const clusterId = db.query<{ value: string }, []>("SELECT value FROM meta WHERE key = 'cluster_id'").get()?.value ?? "";
    db.close();
    const parts: Array<{ path: string; data: Uint8Array }> = [{ path: "tessera.db", data: readFileSync(copy) }];
    for (const path of SECRET_FILES) if (existsSync(join(dataDir, path))) parts.push({ path, data: readFileSync(join(dataDir, path)) });
    return packSnapshot({ store: "sqlite", clusterId, sequence, now }, parts);
  } finally {
    rmSync(copy, { force: true });
  }
}

/** A snapshot of `parts`, in order: its header names them, their sizes and their SHA-256. */
export function packSnapshot(about: { store: SnapshotStore; clusterId: string; sequence: number; now: number }, parts: Array<{ path: string; data: Uint8Array }>): Snapshot {
  const hash = createHash("sha256");
  for (const p of parts) hash.update(p.data);
  const meta: SnapshotHeader = {
    store: about.store,
    clusterId: about.clusterId,
    sequence: about.sequence,
    takenAt: new Date(about.now).toISOString(),
    files: parts.map((p) => ({ path: p.path, bytes: p.data.length })),
    sha256: hash.digest("hex"),
  };
  return { header: new TextEncoder().encode(`${MAGIC}${JSON.stringify(meta)}\n`), parts: parts.map((p) => p.data), meta };
}

/** The store a snapshot's header names (older files name none: SQLite's). */
export function storeOf(meta: SnapshotHeader): SnapshotStore {
  return meta.store ?? "sqlite";
}

/** Whether a file of a snapshot of `store` may have this path: SQLite's data dir files, or one file per PostgreSQL table. */
function allowedPath(store: SnapshotStore, path: string): boolean {
  return store === "sqlite" ? path === "tessera.db" || SECRET_FILES.includes(path) : /^postgres\/[a-z_]+\.jsonl$/.test(path);
}

/** The header and files of a snapshot file; throws naming the file and what is wrong (truncated, damaged, not a snapshot). */
export function readSnapshot(file: string): { meta: SnapshotHeader; files: Array<{ path: string; data: Uint8Array }> } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new Error(`${file}: cannot read: ${(err as Error).message}`);
  }
  const end = bytes.indexOf(10);
  const first = bytes.subarray(0, end < 0 ? Math.min(bytes.length, 200) : end).toString("utf8");
  if (!first.startsWith(MAGIC)) throw new Error(`${file}: not a Tessera snapshot (expected a first line starting "${MAGIC.trim()}")`);
  if (end < 0) throw new Error(`${file}: truncated: its header line does not end`);
  let meta: SnapshotHeader;
  try {
    meta = JSON.parse(first.slice(MAGIC.length)) as SnapshotHeader;
  } catch {
    throw new Error(`${file}: damaged: its header is not valid JSON`);
  }
  if (meta.store !== undefined && meta.store !== "sqlite" && meta.store !== "postgres") throw new Error(`${file}: damaged: its header's store is ${JSON.stringify(meta.store)}, expected "sqlite" or "postgres"`);
  const expected = meta.files.reduce((n, f) => n + f.bytes, 0);
  const body = bytes.subarray(end + 1);
  if (body.length < expected) throw new Error(`${file}: truncated: its header announces ${expected} bytes of files, it holds ${body.length}`);
  if (body.length > expected) throw new Error(`${file}: damaged: ${body.length - expected} bytes past the files its header announces`);
  if (createHash("sha256").update(body).digest("hex") !== meta.sha256) throw new Error(`${file}: damaged: its SHA-256 does not match its header's`);
  let at = 0;
  const files = meta.files.map((f) => {
    if (!allowedPath(storeOf(meta), f.path)) throw new Error(`${file}: damaged: unexpected file "${f.path}"`);
    const data = body.subarray(at, at + f.bytes);
    at += f.bytes;
    return { path: f.path, data };
  });
  return { meta, files };
}

/**
 * Writes a SQLite snapshot's files into an empty data dir (owner-only); refuses a data dir that
 * holds a database, and a PostgreSQL snapshot (its CA key is sealed with the cluster's CA
 * secret: a SQLite data dir would need it in the clear).
 */
export function restoreSnapshot(file: string, dataDir: string): SnapshotHeader {
  const { meta, files } = readSnapshot(file);
  if (storeOf(meta) === "postgres") throw new Error(`--restore: ${file} is a snapshot of a PostgreSQL store: restore it with --store postgres://… into an empty database`);
  if (existsSync(join(dataDir, "tessera.db"))) throw new Error(`--restore: ${dataDir} already holds a database (tessera.db); restore into an empty --data-dir`);
  for (const f of files) {
    const path = join(dataDir, f.path);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, f.data, { mode: 0o600 });
  }
  return meta;
}
