/**
 * Scheduled snapshots (`--snapshot-every`, `--snapshot-keep`; k3s' 12 h and 5): while this
 * control plane leads (a term, term.ts: on PostgreSQL only the leader's, a standby takes none),
 * a snapshot file of its store every interval into DATA_DIR/snapshots, owner-only, keeping the
 * newest few (core/snapshot-retention.ts decides which).
 */
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../../shell/logger.js";
import { snapshotsToDelete } from "../../core/events/snapshot-retention.js";
import type { Snapshot } from "../store/snapshot-file.js";

/** Takes a snapshot of the store (Store.supports.snapshot). */
export type TakeSnapshot = (now: number) => Promise<Pick<Snapshot, "header" | "parts">>;

export interface SnapshotSchedule {
  everyMs: number;
  keep: number;
}

/** A scheduled snapshot's file name: when it was taken, so that names sort as times do. */
export function scheduledSnapshotName(now: number): string {
  return `tessera-${new Date(now).toISOString().replace(/[:.]/g, "-")}.snap`;
}

/** Takes one scheduled snapshot and trims the folder; returns the file written. */
export async function takeScheduledSnapshot(take: TakeSnapshot, dataDir: string, keep: number, now: number): Promise<string> {
  const dir = join(dataDir, "snapshots");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { header, parts } = await take(now);
  const file = join(dir, scheduledSnapshotName(now));
  writeFileSync(`${file}.partial`, Buffer.concat([header, ...parts]), { mode: 0o600 });
  renameSync(`${file}.partial`, file);
  for (const old of snapshotsToDelete(readdirSync(dir), keep)) rmSync(join(dir, old), { force: true });
  return file;
}

/** Starts the schedule; returns what stops it. */
export function scheduleSnapshots(take: TakeSnapshot, dataDir: string, schedule: SnapshotSchedule, log: Logger): () => void {
  const timer = setInterval(() => {
    takeScheduledSnapshot(take, dataDir, schedule.keep, Date.now()).then(
      (file) => log.info("scheduled snapshot taken", { file }),
      (err: Error) => log.error("scheduled snapshot failed", { error: err.message }),
    );
  }, schedule.everyMs);
  return () => clearInterval(timer);
}
