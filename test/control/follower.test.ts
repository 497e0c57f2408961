/**
 * A follower on PostgreSQL (src/control/lifecycle/follower.ts) against a private server: it hears a
 * leader's commits through NOTIFY (its fallback timer is far too slow to be what delivers
 * them) and folds them into a state equal to a fresh load; it hands over a state caught up
 * with the last commit; events retention dropped before it applied them mean a new snapshot.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { SQL } from "bun";
import type { Command } from "../../src/core/decide/commands.js";
import { dropAgentStreams } from "../../src/core/events/stored-state.js";
import type { ClusterState, ClusterView } from "../../src/core/model/cluster-state.js";
import { desiredCopies } from "../../src/core/model/cluster-status.js";
import { secretId } from "../../src/core/model/secrets.js";
import type { Logger } from "../../src/shell/logger.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { runTurn } from "../../src/core/reconcile/turn.js";
import { Follower } from "../../src/control/lifecycle/follower.js";
import { PostgresLease } from "../../src/control/store/postgres/lease.js";
import { PostgresStore } from "../../src/control/store/postgres/store.js";
import type { StoredEvent } from "../../src/control/store/rows.js";
import { WorkloadKind } from "../../src/gen/tessera/v1/types.js";
import { spec } from "../core/fixtures.js";
import { eventually } from "../e2e/harness.js";
import { type PostgresServer, postgresSuite } from "../e2e/postgres-server.js";

const pg = postgresSuite("followers on PostgreSQL");
let server: PostgresServer | undefined;
let databases = 0;
const opened: Array<{ close(): Promise<void> }> = [];
const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };

beforeAll(async () => {
  if (pg.skip) return;
  server = await pg.start();
});
afterAll(async () => {
  for (const o of opened.reverse()) await o.close();
  server?.remove();
});

/** A database with a leader holding the lease, its store fenced, and a second store for the follower. */
async function cluster() {
  const url = await server!.createDatabase(`follow_${++databases}`);
  const leader = await PostgresStore.open(url);
  const lease = new PostgresLease(url, 2_000);
  const standby = await PostgresStore.open(url);
  opened.push(leader, lease, standby);
  const held = (await lease.take({ id: "cp-a", address: "127.0.0.1:7001" }, 60_000))!;
  leader.fenceWith({ holder: held.holder, epoch: held.epoch });
  const state = await leader.load();
  let now = 1_000_000;
  /** One writer turn on the leader, committed. */
  const turn = async (commands: Command[]) => {
    now += 1_000;
    const { events } = runTurn(state, commands, { now, policy: DEFAULT_POLICY, reconcile: true });
    return leader.commit(events, state);
  };
  return { url, leader, standby, state, turn };
}

const connect = (node: string): Command => ({ type: "AgentConnected", node, session: 1, executors: ["process"], version: "t", labels: {}, capacity: { cpuMillis: 4000, memoryMb: 4096 }, instances: [] });
const apply = (name: string, replicas: number): Command => ({ type: "ApplyWorkload", name, labels: {}, spec: spec({ replicas }) });
const applySystem = (name: string): Command => ({ type: "ApplyWorkload", name, labels: {}, spec: spec({ kind: WorkloadKind.WORKLOAD_KIND_SYSTEM }) });

/** The leader's state but for heartbeat times: volatile, never logged, heard by the leader only. */
function heartbeatsAside(state: ClusterView): ClusterState {
  const s = structuredClone(state) as ClusterState;
  for (const n of s.nodes.values()) n.lastHeartbeatAt = 0;
  return s;
}

/** What a new leader would start from: no agent stream survives, heartbeats are not logged. */
function comparable(state: ClusterState): ClusterState {
  const s = dropAgentStreams(structuredClone(state));
  for (const n of s.nodes.values()) n.lastHeartbeatAt = 0;
  return s;
}

test.skipIf(pg.skip)("a follower hears the leader's commits through NOTIFY and its state equals a fresh load", async () => {
  const { standby, turn } = await cluster();
  await turn([connect("n1"), connect("n2")]);
  const heard: StoredEvent[] = [];
  // An hour between catch-ups of its own: only a NOTIFY makes it read within the deadline.
  const follower = new Follower({ store: standby, log: silent, pollMs: 3_600_000, applied: (events) => heard.push(...events) });
  opened.push(follower);
  follower.start();
  await eventually("the first snapshot", () => follower.ready || undefined, 5_000);
  const at = follower.appliedSeq;
  expect(at).toBeGreaterThan(0);

  const t0 = performance.now();
  const stored = await turn([apply("web", 3)]);
  const last = stored.at(-1)!.seq;
  await eventually(`seq ${last} applied`, () => follower.appliedSeq === last || undefined, 2_000);
  console.log(`follower caught up ${(performance.now() - t0).toFixed(1)} ms after the commit began`);
  expect(heard.map((e) => e.seq)).toEqual(stored.map((e) => e.seq));
  expect(follower.view.instances.size).toBe(3);
  expect(comparable(follower.view as ClusterState)).toEqual(comparable(await standby.load()));

  // More turns, several commits in a row: folded in order, none missed.
  for (let i = 0; i < 5; i++) await turn([apply(`batch-${i}`, 1)]);
  const newest = (await standby.loadWithSeq()).seq;
  await eventually(`seq ${newest} applied`, () => follower.appliedSeq === newest || undefined, 2_000);
  expect(comparable(follower.view as ClusterState)).toEqual(comparable(await standby.load()));
});

test.skipIf(pg.skip)("handing over: caught up with the last commit, agent streams dropped", async () => {
  const { standby, turn } = await cluster();
  await turn([connect("n1")]);
  const follower = new Follower({ store: standby, log: silent, pollMs: 3_600_000 });
  follower.start();
  await eventually("the first snapshot", () => follower.ready || undefined, 5_000);
  const stored = await turn([apply("api", 2)]);
  const handed = (await follower.handOver())!;
  expect(handed.seq).toBe(stored.at(-1)!.seq);
  expect([...handed.state.nodes.values()].every((n) => !n.connected && n.session === 0)).toBe(true);
  expect(comparable(handed.state)).toEqual(comparable(await standby.load()));
});

test.skipIf(pg.skip)("handing over: a secret's version committed after the snapshot comes with its sealed value, which the log it folded does not keep", async () => {
  const { standby, turn } = await cluster();
  await turn([connect("n1")]);
  const follower = new Follower({ store: standby, log: silent, pollMs: 3_600_000 });
  follower.start();
  await eventually("the first snapshot", () => follower.ready || undefined, 5_000);
  await turn([{ type: "PutSecret", kind: "secret", name: "db", keys: [{ key: "password", size: 6 }], digest: "d1", payload: "v1.sealed-after-the-snapshot", create: true, by: "admin" }]);
  const handed = (await follower.handOver())!;
  expect(handed.state.secrets.get(secretId("secret", "db"))?.versions.map((v) => v.payload)).toEqual(["v1.sealed-after-the-snapshot"]);
  expect(comparable(handed.state)).toEqual(comparable(await standby.load()));
});

test.skipIf(pg.skip)("events retention dropped before they were applied: a new snapshot", async () => {
  const { url, standby, turn } = await cluster();
  await turn([connect("n1")]);
  const follower = new Follower({ store: standby, log: silent, pollMs: 3_600_000 });
  follower.start();
  await eventually("the first snapshot", () => follower.ready || undefined, 5_000);
  // It stops hearing (its LISTEN gone) while the leader commits and the log is trimmed past it.
  await follower.close();
  const behind = follower.appliedSeq;
  await turn([apply("gone", 1)]);
  const stored = await turn([apply("kept", 1)]);
  const raw = new SQL(url);
  await raw`DELETE FROM events WHERE seq <= ${stored[0]!.seq - 1}`;
  await raw.close();
  // The handover's last catch-up finds the gap and loads a snapshot instead of folding around it.
  const handed = (await follower.handOver())!;
  expect(handed.seq).toBe(stored.at(-1)!.seq);
  expect(handed.seq).toBeGreaterThan(behind);
  expect(handed.state.workloads.has("gone")).toBe(true);
  expect(comparable(handed.state)).toEqual(comparable(await standby.load()));
});

test.skipIf(pg.skip)("a follower started after the agents connected holds their streams as the leader does: a system workload wants a copy on each node, there as on the leader", async () => {
  const { standby, state, turn } = await cluster();
  await turn([connect("n1"), connect("n2"), applySystem("hs"), apply("web", 1)]);
  const follower = new Follower({ store: standby, log: silent, pollMs: 3_600_000 });
  opened.push(follower);
  follower.start();
  await eventually("the first snapshot", () => follower.ready || undefined, 5_000);
  expect(heartbeatsAside(follower.view)).toEqual(heartbeatsAside(state));
  expect(desiredCopies(follower.view, state.workloads.get("hs")!)).toBe(2);

  // A stream closing, then the leader starting over (no stream survives): a snapshot taken after each holds it.
  for (const next of [[{ type: "AgentDisconnected", node: "n2", session: 1 }], [{ type: "StartListening", cause: "start" }]] satisfies Command[][]) {
    await turn(next);
    const later = new Follower({ store: standby, log: silent, pollMs: 3_600_000 });
    opened.push(later);
    later.start();
    await eventually("a snapshot", () => later.ready || undefined, 5_000);
    expect(heartbeatsAside(later.view)).toEqual(heartbeatsAside(state));
    // The first follower, folding the events, holds the same.
    const newest = (await standby.loadWithSeq()).seq;
    await eventually(`seq ${newest} applied`, () => follower.appliedSeq === newest || undefined, 2_000);
    expect(heartbeatsAside(follower.view)).toEqual(heartbeatsAside(state));
  }
  expect([...state.nodes.values()].map((n) => n.connected)).toEqual([false, false]);
});
