/**
 * The lease in PostgreSQL (src/control/store/postgres/lease.ts) and the fence every write of
 * the store checks (postgres/store.ts), against a private server: taking, renewing, expiry on
 * the database's clock, the epoch bumped at each take; a leader whose session ended (a killed
 * process) replaced at once, not a TTL later, and one whose connection was replaced keeping its
 * lease; a deposed leader's commit refused once another took the lease, and the log telling
 * which leader committed in which epoch. Each control plane has a lease client (a session) of
 * its own, as in a cluster.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { SQL } from "bun";
import type { Lease } from "../../src/core/ha/lease.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { runTurn } from "../../src/core/reconcile/turn.js";
import { PostgresLease } from "../../src/control/store/postgres/lease.js";
import { NotLeader, PostgresStore } from "../../src/control/store/postgres/store.js";
import { eventually } from "../e2e/harness.js";
import { type PostgresServer, postgresSuite } from "../e2e/postgres-server.js";

const pg = postgresSuite("the lease on PostgreSQL");
let server: PostgresServer | undefined;
let databases = 0;
const opened: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  if (pg.skip) return;
  server = await pg.start();
});
afterAll(async () => {
  for (const o of opened) await o.close();
  server?.remove();
});

/** A lease client: one control plane's session on the database. */
function client(url: string): PostgresLease {
  const lease = new PostgresLease(url, 2_000);
  opened.push(lease);
  return lease;
}

/** A migrated database and a lease client on it. */
async function fresh(): Promise<{ url: string; store: PostgresStore; lease: PostgresLease }> {
  const url = await server!.createDatabase(`lease_${++databases}`);
  const store = await PostgresStore.open(url);
  opened.push(store);
  return { url, store, lease: client(url) };
}

/** Ends the sessions holding the leadership lock of `epoch`, as the database does when their process dies. */
async function endSessionsLocking(url: string, epoch: number): Promise<number> {
  const sql = new SQL(url);
  try {
    const rows: Array<{ ended: boolean }> = await sql`SELECT pg_terminate_backend(pid) AS ended FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND objid = ${epoch} AND objsubid = 2 AND granted`;
    return rows.filter((r) => r.ended).length;
  } finally {
    await sql.close();
  }
}

const A = { id: "cp-a", address: "127.0.0.1:7001" };
const B = { id: "cp-b", address: "127.0.0.1:7002" };
const fenceOf = (l: Lease) => ({ holder: l.holder, epoch: l.epoch });

/** One turn's worth of events: a node connecting, so that the commit writes a row and an event. */
function connect(state: Awaited<ReturnType<PostgresStore["load"]>>, node: string) {
  return runTurn(state, [{ type: "AgentConnected", node, session: 1, executors: ["process"], version: "t", labels: {}, capacity: { cpuMillis: 1000, memoryMb: 1024 }, instances: [] }], {
    now: 1_000_000,
    policy: DEFAULT_POLICY,
    reconcile: false,
  }).events;
}

test.skipIf(pg.skip)("take, refuse, renew, expire on the database's clock, take again in the next epoch", async () => {
  const { url, lease: a } = await fresh();
  const b = client(url);
  const first = (await a.take(A, 60_000))!;
  expect(first).toMatchObject({ holder: "cp-a", address: A.address, epoch: 1 });
  expect(first.expiresAt - first.renewedAt).toBeCloseTo(60_000, -1);
  // Held and in force: nobody else takes it.
  expect(await b.take(B, 60_000)).toBeUndefined();
  const renewed = (await a.renew(fenceOf(first), 60_000))!;
  expect(renewed.epoch).toBe(1);
  expect(renewed.expiresAt).toBeGreaterThan(first.expiresAt);
  // A renewal in another epoch is no renewal.
  expect(await a.renew({ holder: "cp-a", epoch: 2 }, 60_000)).toBeUndefined();

  // A short lease, then B polls until the database says it expired (A's session lives on: only the TTL frees it).
  const short = (await a.renew(fenceOf(first), 300))!;
  const taken = await eventually("B takes the expired lease", () => b.take(B, 60_000), 5_000, 20);
  expect(taken).toMatchObject({ holder: "cp-b", address: B.address, epoch: 2 });
  expect(taken.renewedAt).toBeGreaterThanOrEqual(short.expiresAt);
  // A cannot renew what it lost.
  expect(await a.renew(fenceOf(first), 60_000)).toBeUndefined();
  // Released, it can be taken at once, and every take bumps the epoch.
  await b.release(fenceOf(taken));
  expect((await a.take(A, 60_000))!.epoch).toBe(3);
  // Taken again by its own holder (a control plane that stepped down): a new epoch.
  expect((await a.take(A, 60_000))!.epoch).toBe(4);
});

test.skipIf(pg.skip)("a leader's session ends (its process killed): a standby takes the lease at once, a whole TTL early, and holds it against a third", async () => {
  const { url, lease: a } = await fresh();
  const b = client(url);
  const c = client(url);
  const held = (await a.take(A, 600_000))!;
  expect(await b.take(B, 600_000)).toBeUndefined();
  // The leader's process dies: its kernel closes the socket and the database ends the session.
  expect(await endSessionsLocking(url, held.epoch)).toBe(1);
  const taken = await eventually("B takes the lease of a leader with no session", () => b.take(B, 600_000), 5_000, 20);
  expect(taken).toMatchObject({ holder: "cp-b", epoch: held.epoch + 1 });
  // Ten minutes were left on A's lease: only its ended session let B in.
  expect(taken.renewedAt).toBeLessThan(held.expiresAt - 500_000);
  // B's own session holds the new epoch's lock: a third is refused while B lives.
  expect(await c.take({ id: "cp-c", address: "127.0.0.1:7003" }, 600_000)).toBeUndefined();
  expect(await b.renew(fenceOf(taken), 600_000)).toMatchObject({ holder: "cp-b", epoch: taken.epoch });
});

test.skipIf(pg.skip)("a leader whose connection was replaced (a database restart, a broken socket) takes its epoch's lock again at its renewal: standbys wait", async () => {
  const { url, lease: a } = await fresh();
  const b = client(url);
  const held = (await a.take(A, 600_000))!;
  expect(await endSessionsLocking(url, held.epoch)).toBe(1);
  // The client reconnects; the renewal on the new session takes the lock again.
  const renewed = await eventually("A renews on a new connection", () => a.renew(fenceOf(held), 600_000).catch(() => undefined), 5_000, 20);
  expect(renewed.epoch).toBe(held.epoch);
  expect(await b.take(B, 600_000)).toBeUndefined();
  // And that session's end frees it again.
  expect(await endSessionsLocking(url, held.epoch)).toBe(1);
  expect(await eventually("B takes it once A's session ends", () => b.take(B, 600_000), 5_000, 20)).toMatchObject({ holder: "cp-b", epoch: held.epoch + 1 });
});

test.skipIf(pg.skip)("a deposed leader's commit is refused inside its transaction; the log says who committed in which epoch", async () => {
  const { url, store: a, lease } = await fresh();
  const b = await PostgresStore.open(url);
  opened.push(b);
  const leaseOfB = client(url);
  const state = await a.load();

  // Without the lease, nothing is written.
  await expect(a.commit(connect(state, "n0"), state)).rejects.toBeInstanceOf(NotLeader);
  await expect(a.probe(1)).rejects.toBeInstanceOf(NotLeader);

  const leaseA = (await lease.take(A, 500))!;
  a.fenceWith(fenceOf(leaseA));
  expect((await a.commit(connect(state, "n1"), state)).length).toBeGreaterThan(0);
  await a.probe(2);

  // A is paused past its lease (it does not renew); B takes over in the next epoch.
  const leaseB = await eventually("B takes the lease after A's expiry", () => leaseOfB.take(B, 60_000), 5_000, 20);
  expect(leaseB.epoch).toBe(leaseA.epoch + 1);
  b.fenceWith(fenceOf(leaseB));
  const stateB = await b.load();
  expect([...stateB.nodes.keys()]).toEqual(["n1"]);

  // A wakes up and commits its next turn: refused, nothing of it written.
  const lastOfA = a.history.newestSeq();
  await expect(a.commit(connect(state, "n2"), state)).rejects.toThrow("not the leader any more: the lease of epoch 1 is no longer this control plane's");
  await expect(a.probe(3)).rejects.toBeInstanceOf(NotLeader);
  expect((await b.load()).nodes.has("n2")).toBe(false);
  expect((await b.commit(connect(stateB, "n3"), stateB)).length).toBeGreaterThan(0);

  const sql = new SQL(url);
  try {
    const rows: Array<{ leader: string; epoch: string; first: string; last: string }> = await sql`SELECT leader, epoch, min(seq) AS first, max(seq) AS last FROM events GROUP BY leader, epoch ORDER BY min(seq)`;
    // One leader per epoch, epochs in the order of the log, and none of A's after B's first.
    expect(rows.map((r) => [r.leader, Number(r.epoch)])).toEqual([
      ["cp-a", 1],
      ["cp-b", 2],
    ]);
    expect(Number(rows[0]!.last)).toBeLessThan(Number(rows[1]!.first));
    expect(Number(rows[0]!.last)).toBe(lastOfA);
    expect(a.history.newestSeq()).toBe(lastOfA);
  } finally {
    await sql.close();
  }
});

test.skipIf(pg.skip)("the roll: each control plane attends with the newest event it applied; the survey reads the lease, the newest commit and the database's clock", async () => {
  const { lease } = await fresh();
  await lease.attend(A, 0);
  await lease.attend(B, 0);
  await lease.attend(B, 7);
  await lease.take(A, 60_000);
  const { lease: current, members, newestSeq, dbNow } = await lease.survey();
  expect(current).toMatchObject({ holder: "cp-a", epoch: 1 });
  expect(members.map((m) => [m.id, m.appliedSeq]).sort()).toEqual([
    ["cp-a", 0],
    ["cp-b", 7],
  ]);
  expect(newestSeq).toBe(0);
  for (const m of members) expect(Math.abs(dbNow - m.seenAt)).toBeLessThan(5_000);
});
