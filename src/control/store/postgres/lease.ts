/**
 * The lease on leadership in PostgreSQL (postgres/schema.ts's `leadership`, one row) and the
 * roll of control planes on the database (`control_planes`): the SQL, nothing decided here
 * (src/core/ha/lease.ts decides). Every comparison of times is made with the database's clock
 * (`clock_timestamp()`), never the control plane's.
 *
 * It has a connection of its own, apart from the store's pool, so that a renewal never queues
 * behind readers; its statements time out well inside the TTL.
 *
 * The leader of epoch e also holds a session advisory lock keyed by e on that connection, taken
 * in the statement that took the lease. The database lets it go the moment the leader's session
 * ends: a killed leader's sockets are closed by its kernel, its backend exits. A standby that
 * can take that lock knows epoch e's leader has no session any more and takes the lease at once,
 * without waiting out the TTL. A leader whose host vanished (no socket closed) keeps its session
 * until TCP gives up on it, so the TTL stays the bound; safety never rests on the lock: every
 * commit is fenced by the lease's epoch, so a leader that lost its session but lives on is
 * refused at its next commit or renewal.
 */
import { SQL } from "bun";
import type { Lease, Member } from "../../../core/ha/lease.js";

const CONNECT_TIMEOUT_S = 5;

/** The advisory locks' first key, naming them Tessera's leadership ("TSRA"); the second is the epoch. */
const LOCK_CLASS = 0x54535241;

/** Takes epoch `epoch`'s lock for this session unless it holds it already (a session's lock is counted per take). */
const holdLock = (epoch: string) =>
  `(EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND classid = ${LOCK_CLASS} AND objid = ${epoch} AND objsubid = 2) OR pg_try_advisory_lock(${LOCK_CLASS}, ${epoch}::int4))`;

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
    // Never closed for being idle or old: the session holds the leader's lock.
    this.client = new SQL({ url, max: 1, idleTimeout: 0, maxLifetime: 0, connectionTimeout: CONNECT_TIMEOUT_S, connection: { statement_timeout: statementTimeoutMs } });
  }

  /**
   * Takes the lease if it has expired, if its holder's session is gone (its epoch's lock was
   * free to take), or if it is ours from an earlier term: the epoch goes up by one at every
   * take, so whatever the earlier term still tries to commit is refused, and the new epoch's
   * lock is taken with it. Undefined when someone else holds it.
   */
  async take(me: Candidate, ttlMs: number): Promise<Lease | undefined> {
    const rows: LeaseRow[] = await this.client.unsafe(
      `INSERT INTO leadership AS l (id, holder, address, epoch, renewed_at, expires_at)
       VALUES (1, $1, $2, 1, clock_timestamp(), clock_timestamp() + make_interval(secs => $3::float8))
       ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, address = excluded.address, epoch = l.epoch + 1,
         renewed_at = excluded.renewed_at, expires_at = excluded.expires_at
       WHERE l.expires_at <= clock_timestamp() OR l.holder = excluded.holder OR pg_try_advisory_lock(${LOCK_CLASS}, l.epoch::int4)
       RETURNING ${LEASE_COLUMNS}, ${holdLock("epoch")} AS locked`,
      [me.id, me.address, ttlMs / 1000],
    );
    return leaseOf(rows[0]);
  }

  /**
   * Extends the lease held in `fence` while it is in force; undefined when it is not ours any
   * more. The epoch's lock is taken again if this connection was replaced since (the database
   * restarted, the connection broke) and no standby took the lease in between.
   */
  async renew(fence: Fence, ttlMs: number): Promise<Lease | undefined> {
    const rows: LeaseRow[] = await this.client.unsafe(
      `UPDATE leadership SET renewed_at = clock_timestamp(), expires_at = clock_timestamp() + make_interval(secs => $3::float8)
       WHERE id = 1 AND holder = $1 AND epoch = $2 AND expires_at > clock_timestamp()
       RETURNING ${LEASE_COLUMNS}, ${holdLock("epoch")} AS locked`,
      [fence.holder, fence.epoch, ttlMs / 1000],
    );
    return leaseOf(rows[0]);
  }

  /** Lets the lease go at once (a clean stop), so that a standby need not wait for it to expire, and this session's locks with it. */
  async release(fence: Fence): Promise<void> {
    await this.client.unsafe(`UPDATE leadership SET expires_at = clock_timestamp() WHERE id = 1 AND holder = $1 AND epoch = $2`, [fence.holder, fence.epoch]);
    await this.client.unsafe(`SELECT pg_advisory_unlock_all()`);
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
