/** Which scheduled snapshots to keep (k3s' etcd-snapshot-retention): the newest `keep`. PURE. */

/** Scheduled snapshots are named by when they were taken, so that names sort as times do. */
export function scheduledSnapshotName(now: number): string {
  return `tessera-${new Date(now).toISOString().replace(/[:.]/g, "-")}.snap`;
}

/** Of the files in the snapshots folder, the scheduled snapshots to delete: all but the newest `keep`. */
export function snapshotsToDelete(files: readonly string[], keep: number): string[] {
  const ours = files.filter((f) => /^tessera-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z\.snap$/.test(f)).sort();
  return ours.slice(0, Math.max(0, ours.length - keep));
}
