/**
 * One control plane and one agent per data dir: an exclusive flock(2) on DATA_DIR/control.lock,
 * taken before the store is opened, and on DATA_DIR/agent.lock, taken before an agent adopts
 * what it finds there. Two control planes on one data dir both ran and diverged (duplicate
 * instance sequence numbers, a node declared Offline by one of them); a second agent on one data
 * dir adopted the first one's copies and stopped them. The two locks are separate files, so
 * that `tessera dev` (both in one process, on one data dir) holds both.
 *
 * flock, not a pid file: the kernel drops the lock when its process ends, however it ends
 * (kill -9 leaves nothing stale to clean up), and no pid is ever guessed alive or dead. Node
 * and Bun have no file locking of their own, so libc's flock is called through bun:ffi (this
 * works inside the compiled binary). Bun opens files with O_CLOEXEC, so the instances that
 * `tessera dev` starts do not inherit the lock and cannot keep it after the control plane dies.
 *
 * The file holds the holder's pid, host and start time, only so that a refusal can say who
 * holds it; the lock itself is what counts, never the text.
 */
import { dlopen, FFIType, read } from "bun:ffi";
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
/** EWOULDBLOCK (= EAGAIN) on Linux: another open file holds the lock. */
const EWOULDBLOCK = 11;

/** glibc names its libc libc.so.6; musl (an Alpine build) answers to libc.so. */
const LIBC_NAMES = ["libc.so.6", "libc.so"];

const SYMBOLS = {
  flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
} as const;

let libc: ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"] | undefined;

function openLibc(): NonNullable<typeof libc> {
  if (libc) return libc;
  const failures: string[] = [];
  for (const name of LIBC_NAMES) {
    try {
      libc = dlopen(name, SYMBOLS).symbols;
      return libc;
    } catch (err) {
      failures.push(`${name}: ${(err as Error).message}`);
    }
  }
  throw new Error(`cannot lock the data dir: libc not found (${failures.join("; ")})`);
}

/** Who holds a data dir, as recorded in its lock file. */
interface Holder {
  pid: number;
  host: string;
  /** ISO time the holder took the lock. */
  startedAt: string;
}

/** Who takes a data dir's lock: each has a lock file of its own there. */
export type DataDirRole = "control plane" | "agent";

const LOCK_FILES: { [R in DataDirRole]: string } = { "control plane": "control.lock", agent: "agent.lock" };

/** What to do about a refusal, beyond stopping the holder. */
const ADVICE: { [R in DataDirRole]: string } = {
  "control plane": "stop it or use another --data-dir",
  agent: "stop it or use another --data-dir (each agent on a host needs its own)",
};

/** Refusal to start: another control plane (or agent) holds the data dir. */
export class DataDirInUse extends Error {
  constructor(
    readonly dataDir: string,
    readonly role: DataDirRole,
    readonly holder: Holder | undefined,
  ) {
    const who = holder ? `pid ${holder.pid} on ${holder.host}, started ${holder.startedAt}` : "it has not recorded its pid yet";
    super(`data dir ${dataDir} is in use by another ${role} (${who}); ${ADVICE[role]}`);
  }
}

export interface DataDirLock {
  readonly path: string;
  /** Drops the lock (idempotent); the file stays, as removing it would race with a new holder. */
  release(): void;
}

function readHolder(path: string): Holder | undefined {
  try {
    const h = JSON.parse(readFileSync(path, "utf8")) as Partial<Holder>;
    return typeof h.pid === "number" ? { pid: h.pid, host: String(h.host), startedAt: String(h.startedAt) } : undefined;
  } catch {
    // Empty (the holder is between locking and writing) or not ours: no one to name.
    return undefined;
  }
}

/** Takes the data dir's lock for `role` without waiting; throws DataDirInUse when another process has it. */
export function lockDataDir(dataDir: string, role: DataDirRole, now: number): DataDirLock {
  const { flock, __errno_location } = openLibc();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, LOCK_FILES[role]);
  // Opened without truncating: the text belongs to whoever holds the lock.
  const fd = openSync(path, "a+", 0o600);
  if (flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const errno = read.i32(__errno_location()!, 0);
    closeSync(fd);
    if (errno === EWOULDBLOCK) throw new DataDirInUse(dataDir, role, readHolder(path));
    throw new Error(`cannot lock ${path}: flock failed with errno ${errno}`);
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date(now).toISOString() } satisfies Holder)}\n`, 0);
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      // Cleared first, so the text never names a process that no longer holds the lock.
      ftruncateSync(fd, 0);
      flock(fd, LOCK_UN);
      closeSync(fd);
    },
  };
}
