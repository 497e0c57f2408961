/**
 * Secrets and configs ↔ their rows (one per kept version), the same in both dialects. Pure.
 */
import type { SecretKind, SecretRecord } from "../../core/model/secrets.js";
import type * as schema from "./sqlite/schema.js";

export type SecretVersionRow = typeof schema.secretVersions.$inferSelect;

/** A record's rows, oldest version first. */
export function secretToRows(r: SecretRecord): SecretVersionRow[] {
  return r.versions.map((v) => ({ kind: r.kind, name: r.name, version: v.version, keys: v.keys, digest: v.digest, payload: v.payload ?? null, by: v.by, at: v.at, createdAt: r.createdAt }));
}

/** Records from rows in any order. */
export function secretsFromRows(rows: Iterable<SecretVersionRow>): SecretRecord[] {
  const byId = new Map<string, SecretRecord>();
  for (const row of [...rows].sort((a, b) => a.version - b.version)) {
    const id = `${row.kind}/${row.name}`;
    const record = byId.get(id) ?? { kind: row.kind as SecretKind, name: row.name, createdAt: row.createdAt, versions: [] };
    record.versions.push({ version: row.version, keys: row.keys, digest: row.digest, by: row.by, at: row.at, ...(row.payload !== null && { payload: row.payload }) });
    byId.set(id, record);
  }
  return [...byId.values()];
}
