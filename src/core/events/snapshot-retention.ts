/** Which scheduled snapshots to keep (k3s' etcd-snapshot-retention): the newest `keep`. PURE. */

/**
 * Of the files in the snapshots folder, the scheduled snapshots to delete: all but the newest
 * `keep`. Scheduled snapshots are named tessera-TIME.snap, TIME in ISO 8601 with - for : and .
 * (scheduled-snapshots.ts), so names sort as the times they were taken.
 */
export function snapshotsToDelete(files: readonly string[], keep: number): string[] {
  const ours = files.filter((f) => /^tessera-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z\.snap$/.test(f)).sort();
  return ours.slice(0, Math.max(0, ours.length - keep));
}
