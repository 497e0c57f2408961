/**
 * The lease on leadership in PostgreSQL (postgres/schema.ts's `leadership`, one row) and the
 * roll of control planes on the database (`control_planes`): the SQL, nothing decided here
 * (src/core/ha/lease.ts decides). Every comparison of times is made with the database's clock
 * (`clock_timestamp()`), never the control plane's.
 *
 * It has a connection of its own, apart from the store's pool, so that a renewal never queues
 * behind readers; its statements time out well inside the TTL.
 */
import { SQL } from "bun";
import type { Lease, Member } from "../../../core/ha/lease.js";

const CONNECT_TIMEOUT_S = 5;

/** Who holds the lease and in which epoch: what every commit of the writer is checked against. */
export interface Fence {
  holder: string;
  epoch: number;
}

/** This control plane, as it takes the lease and appears in the roll. */
export interface Candidate {
  id: string;
  address: string;
}

interface LeaseRow {
  holder: string;
  address: string;
  epoch: number | string;
  renewed_at: number;
  expires_at: number;
}

/** The lease's columns, its times as epoch ms on the database's clock. */
const LEASE_COLUMNS = "holder, address, epoch, extract(epoch FROM renewed_at) * 1000 AS renewed_at, extract(epoch FROM expires_at) * 1000 AS expires_at";

function leaseOf(row: LeaseRow | undefined): Lease | undefined {
  return row && { holder: row.holder, address: row.address, epoch: Number(row.epoch), renewedAt: Number(row.renewed_at), expiresAt: Number(row.expires_at) };
}

export class PostgresLease {
  private readonly client: SQL;

  /** `statementTimeoutMs`: past it the database gives up on a statement (the caller's deadline is shorter still). */
  constructor(url: string, statementTimeoutMs: number) {
    this.client = new SQL({ url, max: 1, connectionTimeout: CONNECT_TIMEOUT_S, connection: { statement_timeout: statementTimeoutMs } });
  }

  /**
   * Takes the lease if it has expired (or is ours from an earlier term): the epoch goes up by
   * one at every take, so whatever the earlier term still tries to commit is refused. Undefined
   * when someone else holds it.
   */
  async take(me: Candidate, ttlMs: number): Promise<Lease | undefined> {
    const rows: LeaseRow[] = await this.client.unsafe(
      `INSERT INTO leadership AS l (id, holder, address, epoch, renewed_at, expires_at)
       VALUES (1, $1, $2, 1, clock_timestamp(), clock_timestamp() + make_interval(secs => $3::float8))
       ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, address = excluded.address, epoch = l.epoch + 1,
         renewed_at = excluded.renewed_at, expires_at = excluded.expires_at
       WHERE l.expires_at <= clock_timestamp() OR l.holder = excluded.holder
       RETURNING ${LEASE_COLUMNS}`,
      [me.id, me.address, ttlMs / 1000],
    );
    return leaseOf(rows[0]);
  }

  /** Extends the lease held in `fence` while it is in force; undefined when it is not ours any more. */
  async renew(fence: Fence, ttlMs: number): Promise<Lease | undefined> {
    const rows: LeaseRow[] = await this.client.unsafe(
      `UPDATE leadership SET renewed_at = clock_timestamp(), expires_at = clock_timestamp() + make_interval(secs => $3::float8)
       WHERE id = 1 AND holder = $1 AND epoch = $2 AND expires_at > clock_timestamp()
       RETURNING ${LEASE_COLUMNS}`,
      [fence.holder, fence.epoch, ttlMs / 1000],
    );
    return leaseOf(rows[0]);
  }

  /** Lets the lease go at once (a clean stop), so that a standby need not wait for it to expire. */
  async release(fence: Fence): Promise<void> {
    await this.client.unsafe(`UPDATE leadership SET expires_at = clock_timestamp() WHERE id = 1 AND holder = $1 AND epoch = $2`, [fence.holder, fence.epoch]);
  }

  /** Records that this control plane is there, with the newest event its state holds (the roll `get control-planes` reads). */
  async attend(me: Candidate, appliedSeq: number): Promise<void> {
    await this.client.unsafe(
      `INSERT INTO control_planes (id, address, started_at, seen_at, applied_seq) VALUES ($1, $2, clock_timestamp(), clock_timestamp(), $3)
       ON CONFLICT (id) DO UPDATE SET address = excluded.address, seen_at = excluded.seen_at, applied_seq = excluded.applied_seq`,
      [me.id, me.address, appliedSeq],
    );
  }

  /** The lease as it stands, the roll, the newest committed event and the database's clock now. */
  async survey(): Promise<{ lease: Lease | undefined; members: Member[]; newestSeq: number; dbNow: number }> {
    const [leases, members, newest, now] = await Promise.all([
      this.client.unsafe(`SELECT ${LEASE_COLUMNS} FROM leadership WHERE id = 1`) as Promise<LeaseRow[]>,
      this.client.unsafe(
        `SELECT id, address, extract(epoch FROM started_at) * 1000 AS started_at, extract(epoch FROM seen_at) * 1000 AS seen_at, applied_seq FROM control_planes`,
      ) as Promise<Array<{ id: string; address: string; started_at: number; seen_at: number; applied_seq: number | string }>>,
      this.client.unsafe(`SELECT COALESCE(MAX(seq), 0) AS seq FROM events`) as Promise<Array<{ seq: number | string }>>,
      this.client.unsafe(`SELECT extract(epoch FROM clock_timestamp()) * 1000 AS now`) as Promise<Array<{ now: number }>>,
    ]);
    return {
      lease: leaseOf(leases[0]),
      members: members.map((m) => ({ id: m.id, address: m.address, startedAt: Number(m.started_at), seenAt: Number(m.seen_at), appliedSeq: Number(m.applied_seq) })),
      newestSeq: Number(newest[0]!.seq),
      dbNow: Number(now[0]!.now),
    };
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
