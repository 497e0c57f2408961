/**
 * A control plane's id on a shared database (the lease's holder, its row in the roll), kept in
 * DATA_DIR/control-plane-id: restarted on the same data dir (after a crash, kill -9, an
 * upgrade) it is the same control plane, so it takes its own lease again at once in a new
 * epoch instead of waiting the lease out (the take allows its holder; the epoch still fences
 * whatever the earlier process had under way, and the data dir's lock says that process is gone).
 *
 * The file names the host and the data dir's real path it was made for: a data dir copied to
 * another host or path gets a new id, or two live control planes would share one and take the
 * lease from each other.
 */
import { readFileSync, realpathSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

interface Recorded {
  id: string;
  host: string;
  dir: string;
}

/** The id recorded for this host and data dir, or a new one from `fresh`, recorded. The caller holds the data dir's lock. */
export function controlPlaneId(dataDir: string, fresh: () => string): string {
  const file = join(dataDir, "control-plane-id");
  const here = { host: hostname(), dir: realpathSync(dataDir) };
  const recorded = readRecorded(file);
  if (recorded && recorded.host === here.host && recorded.dir === here.dir) return recorded.id;
  const id = fresh();
  writeFileSync(file, `${JSON.stringify({ id, ...here } satisfies Recorded)}\n`, { mode: 0o600 });
  return id;
}

/** The file's record, or undefined when it is missing or not one (then a new id replaces it). */
function readRecorded(file: string): Recorded | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  try {
    const r = JSON.parse(text) as Partial<Recorded>;
    return typeof r.id === "string" && r.id !== "" && typeof r.host === "string" && typeof r.dir === "string" ? (r as Recorded) : undefined;
  } catch {
    return undefined;
  }
}
