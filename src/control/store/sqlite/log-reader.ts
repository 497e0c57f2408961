/**
 * Reads a data dir's event log offline, read-only (for `tessera replay` on a copied data dir).
 */
import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fromLogged } from "../../../core/events/event-log.js";
import type { LoggedInput } from "../../../core/events/what-if.js";
import { eventOfData } from "../rows.js";

export function readEventLog(dataDir: string): LoggedInput[] {
  const path = join(dataDir, "tessera.db");
  if (!existsSync(path)) throw new Error(`${path} does not exist: is ${dataDir} a Tessera data dir?`);
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.query<{ seq: number; version: number; data: string }, []>("SELECT seq, version, data FROM events ORDER BY seq").all();
    return rows.map((r) => ({ seq: r.seq, event: fromLogged({ v: r.version, ...eventOfData(r.data) }, `event ${r.seq}`) }));
  } finally {
    db.close();
  }
}
