/** Which scheduled snapshots are kept (src/core/events/snapshot-retention.ts), as a table. */
import { expect, test } from "bun:test";
import { scheduledSnapshotName } from "../../src/control/lifecycle/scheduled-snapshots.js";
import { snapshotsToDelete } from "../../src/core/events/snapshot-retention.js";

const at = (iso: string) => scheduledSnapshotName(Date.parse(iso));

test("names sort as the times they were taken", () => {
  expect(at("2026-12-06T09:05:00.000Z") < at("2026-12-06T10:00:00.000Z")).toBe(true);
  expect(at("2026-12-06T09:05:00.123Z")).toBe("tessera-2026-12-06T09-05-00-123Z.snap");
});

test.each<[string, string[], number, string[]]>([
  ["fewer than kept: none", [at("2026-01-01T00:00:00Z")], 5, []],
  ["the oldest beyond keep", [at("2026-01-03T00:00:00Z"), at("2026-01-01T00:00:00Z"), at("2026-01-02T00:00:00Z")], 2, [at("2026-01-01T00:00:00Z")]],
  ["files that are not scheduled snapshots stay", ["mine.snap", `${at("2026-01-01T00:00:00Z")}.partial`, at("2026-01-02T00:00:00Z")], 1, []],
])("%s", (_name, files, keep, deleted) => expect(snapshotsToDelete(files, keep)).toEqual(deleted));
