/**
 * A turn's writes (turn-writes.ts) as the statements of its PostgreSQL transaction, all built
 * when the commit is called: the writer goes on deciding turns while this one commits
 * (writer.ts), so nothing of the state may be read later, and each table's rows are turned
 * into text once, here (recordset.ts).
 */
import { and, eq, isNull, notInArray, type SQL, sql } from "drizzle-orm";
import { LISTENING_SINCE_KEY } from "../rows.js";
import { secretToRows } from "../secret-rows.js";
import type { TurnWrites } from "../turn-writes.js";
import type { PostgresDatabase } from "./history.js";
import type { Fence } from "./lease.js";
import { recordsetDelete, recordsetInsert } from "./recordset.js";
import * as schema from "./schema.js";

/** What a leader's commits NOTIFY (the newest sequence number each wrote) and followers LISTEN to. */
export const COMMITS_CHANNEL = "tessera_events";

/** A turn's rows, one statement per table and kind of write (recordset.ts). */
const APPEND_EVENTS = recordsetInsert(schema.events, { omit: ["seq"], returning: ["seq"] });
const UPSERT_WORKLOADS = recordsetInsert(schema.workloads, { conflict: "name" });
const DELETE_WORKLOADS = recordsetDelete(schema.workloads, "name");
const UPSERT_INSTANCES = recordsetInsert(schema.instances, { conflict: "id" });
const DELETE_INSTANCES = recordsetDelete(schema.instances, "id");
const UPSERT_NODES = recordsetInsert(schema.nodes, { conflict: "name" });
const UPSERT_IDENTITIES = recordsetInsert(schema.nodeIdentities, { conflict: "node" });

/** The fence's check: the lease is ours, in our epoch, in force on the database's clock (see PostgresStore.checkFence). */
export function fenceCheck(fence: Fence): SQL {
  return sql`SELECT 1 FROM leadership WHERE id = 1 AND holder = ${fence.holder} AND epoch = ${fence.epoch} AND expires_at > clock_timestamp() FOR SHARE`;
}

/**
 * The fence's check inside a commit sent in one go, COMMIT included (PostgresStore.commit): the
 * lease not ours divides by zero, which aborts the transaction, so the COMMIT that follows ends
 * it as a ROLLBACK. FOR SHARE holds the lease's row as fenceCheck's does.
 */
export function fenceOrAbort(fence: Fence): SQL {
  return sql`SELECT 1 / COUNT(*) AS held FROM (${fenceCheck(fence)}) AS fence`;
}

/** SQLSTATE division_by_zero: how fenceOrAbort refuses. */
const DIVISION_BY_ZERO = "22012";

/** Whether a commit's failure is fenceOrAbort's refusal (the client's error, or drizzle's around it). */
export function abortedByFence(err: unknown): boolean {
  const e = err as { errno?: unknown; cause?: { errno?: unknown } } | undefined;
  return e?.errno === DIVISION_BY_ZERO || e?.cause?.errno === DIVISION_BY_ZERO;
}

export function upsertMeta(key: string, value: string): SQL {
  return sql`INSERT INTO ${schema.meta} (${sql.identifier(schema.meta.key.name)}, ${sql.identifier(schema.meta.value.name)}) VALUES (${key}, ${value}) ON CONFLICT (${sql.identifier(schema.meta.key.name)}) DO UPDATE SET ${sql.identifier(schema.meta.value.name)} = excluded.${sql.identifier(schema.meta.value.name)}`;
}

/**
 * The turn's statements after the fence's check, in the order they run: the events first (the
 * only one answering: their sequence numbers, in the rows' order), the NOTIFY last. `db` only
 * builds statements here; nothing is sent.
 */
export function turnStatements(db: PostgresDatabase, writes: TurnWrites, fence: Fence): SQL[] {
  const rows = writes.events.map((e) => ({ ...e.row, leader: fence.holder, epoch: fence.epoch }));
  const out: SQL[] = [APPEND_EVENTS(rows)];
  if (writes.workloads.upsert.length > 0) out.push(UPSERT_WORKLOADS(writes.workloads.upsert));
  if (writes.workloads.delete.length > 0) out.push(DELETE_WORKLOADS(writes.workloads.delete));
  if (writes.instances.upsert.length > 0) out.push(UPSERT_INSTANCES(writes.instances.upsert));
  if (writes.instances.delete.length > 0) out.push(DELETE_INSTANCES(writes.instances.delete));
  if (writes.nodes.length > 0) out.push(UPSERT_NODES(writes.nodes));
  if (writes.identities.length > 0) out.push(UPSERT_IDENTITIES(writes.identities));
  if (writes.nextInstanceSeq !== undefined) out.push(upsertMeta("next_instance_seq", String(writes.nextInstanceSeq)));
  if (writes.listeningSince !== undefined) out.push(upsertMeta(LISTENING_SINCE_KEY, String(writes.listeningSince)));
  for (const { kind, at, active } of writes.tokens) {
    // Rows of the kind no longer active are revoked; active ones are there (once).
    const stillActive = active.length > 0 ? notInArray(schema.tokens.hash, active.map((t) => t.hash)) : undefined;
    out.push(db.update(schema.tokens).set({ revokedAt: at }).where(and(eq(schema.tokens.role, kind), isNull(schema.tokens.revokedAt), stillActive)).getSQL());
    if (active.length > 0) {
      out.push(
        db
          .insert(schema.tokens)
          .values(active.map((t) => ({ role: kind, hash: t.hash, createdAt: t.createdAt, expiresAt: t.expiresAt, usesLeft: t.usesLeft })))
          .onConflictDoUpdate({
            target: schema.tokens.hash,
            set: { role: sql.raw(`excluded."role"`), revokedAt: null, expiresAt: sql.raw(`excluded."expires_at"`), usesLeft: sql.raw(`excluded."uses_left"`) },
          })
          .getSQL(),
      );
    }
  }
  for (const { kind, name, record } of writes.secrets) {
    // Every kept version is rewritten: versions past versionsKept go, with their values.
    out.push(db.delete(schema.secretVersions).where(and(eq(schema.secretVersions.kind, kind), eq(schema.secretVersions.name, name))).getSQL());
    if (record) out.push(db.insert(schema.secretVersions).values(secretToRows(record)).getSQL());
  }
  // Delivered to followers when (and only if) the transaction commits, in commit order. The
  // statements run in order: the newest sequence number this transaction sees is its last row's.
  out.push(sql`SELECT pg_notify(${COMMITS_CHANNEL}, (SELECT MAX(${schema.events.seq}) FROM ${schema.events})::text)`);
  return out;
}
