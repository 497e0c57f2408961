/**
 * Store hygiene: under endless apply/delete churn, with maintenance as the writer runs it,
 * the event log stays bounded on both stores, and SQLite's database file and WAL too; without
 * it the log and the file grow. Retention by count and age, batching and crash-loop history
 * after a restart on both stores; a SQLite commit that survives a real kill -9.
 */
import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type SqliteMaintenanceStats, WAL_SIZE_LIMIT } from "../../src/control/store/sqlite/maintenance.js";
import { SqliteStore } from "../../src/control/store/sqlite/store.js";
import type { Store } from "../../src/control/store/store.js";
import type { Command } from "../../src/core/decide/commands.js";
import type { ClusterState } from "../../src/core/model/cluster-state.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { runTurn } from "../../src/core/reconcile/turn.js";
import { spec } from "../core/fixtures.js";
import { storeBackends } from "./store-backends.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "tessera-store-"));
  dirs.push(d);
  return d;
};
const size = (path: string) => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};
const count = (store: SqliteStore) => store.sqlite.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM events").get()!.n;
/** The whole retained log, through the Store interface (the tests' logs are small). */
const logOf = (store: Store) => store.history.eventsAfter(0, 10_000_000);
const MiB = 1024 * 1024;

interface ChurnOptions {
  /** Simulated milliseconds per round. */
  step?: number;
  /** Every this many rounds, one replica fails instead of running (0: never). */
  failEvery?: number;
}

/**
 * Drives `rounds` cycles of the writer's real path (runTurn, then commit) on one node that
 * keeps heartbeating: apply 5 workloads of 2 replicas (created, placed), the agent reports
 * them provisioning then running, delete them (stopping), the agent reports them stopped
 * (removed). About 70 logged events per round.
 */
async function churn(store: Store, rounds: number, onRound: (round: number, now: number) => Promise<void> | void, opts: ChurnOptions = {}): Promise<ClusterState> {
  const step = opts.step ?? 10;
  let now = 1_000_000;
  const state = await store.load();
  const turn = async (commands: Command[]) => {
    const r = runTurn(state, commands, { now, policy: DEFAULT_POLICY, reconcile: true });
    if (r.events.length > 0) await store.commit(r.events, state);
    return r;
  };
  await turn([{ type: "AgentConnected", node: "n1", session: 1, executors: ["process"], version: "t", labels: {}, capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, instances: [] }]);
  for (let round = 0; round < rounds; round++) {
    now += step;
    const names = [0, 1, 2, 3, 4].map((i) => `w${i}`);
    await turn([{ type: "Heartbeat", node: "n1", session: 1 }]);
    const placed = await turn(names.map((name) => ({ type: "ApplyWorkload", name, labels: {}, spec: spec({ args: [String(round)], replicas: 2 }) })));
    const started = placed.effects.flatMap((e) => (e.type === "StartInstance" ? [e] : []));
    const fails = opts.failEvery !== undefined && opts.failEvery > 0 && round % opts.failEvery === 0;
    await turn(started.flatMap((e, k): Command[] => [
      { type: "ReportInstance", node: "n1", instanceId: e.instanceId, generation: e.generation, state: "provisioning", reason: "" },
      fails && k === 0
        ? { type: "ReportInstance", node: "n1", instanceId: e.instanceId, generation: e.generation, state: "failed", reason: "exit 1", exitCode: 1 }
        : { type: "ReportInstance", node: "n1", instanceId: e.instanceId, generation: e.generation, state: "running", reason: "" },
    ]));
    const stopping = await turn(names.map((name) => ({ type: "DeleteWorkload", name })));
    await turn(stopping.effects.flatMap((e): Command[] => (e.type === "StopInstance" ? [{ type: "ReportInstance", node: "n1", instanceId: e.instanceId, generation: e.generation, state: "stopped", reason: "" }] : [])));
    await onRound(round, now);
  }
  return state;
}

const CAP = 2_000;
const ROUNDS = 800;
const EVERY = 50;
/** After this round the log has been at its cap for a while: the file has reached its working size. */
const WARM = 299;

test("sqlite: with maintenance the log, the database and the WAL stay bounded", { timeout: 30_000 }, async () => {
  const dir = tempDir();
  // A budget no loaded machine runs out of: this test is about what stays bounded; the next one
  // is about the budget.
  const store = new SqliteStore(dir, { maxEvents: CAP, batch: 500, budgetMs: 10_000 });
  const db = join(dir, "tessera.db");
  let warm = 0;
  let lastNewest = 0;
  let peakEvents = 0;
  let peakWal = 0;
  let perInterval = 0;
  let placements = 0;
  const runs: SqliteMaintenanceStats[] = [];
  await churn(store, ROUNDS, async (round, now) => {
    if (round % EVERY !== EVERY - 1) return;
    // Between two calls the log grows by what the writer committed meanwhile: the peak.
    const events = count(store);
    peakEvents = Math.max(peakEvents, events);
    peakWal = Math.max(peakWal, size(`${db}-wal`));
    const stats = await store.maintain(now);
    runs.push(stats);
    perInterval = Math.max(perInterval, stats.newestSeq - lastNewest);
    lastNewest = stats.newestSeq;
    // Each call catches up completely (the budget is ample for a few thousand rows) ...
    expect(stats.more).toBe(false);
    expect(count(store)).toBeLessThanOrEqual(CAP);
    expect(stats.oldestSeq).toBe(stats.newestSeq - CAP + 1);
    // ... and leaves no WAL behind.
    expect(stats.checkpointBlocked).toBe(false);
    expect(stats.walBytesAfter).toBe(0);
    if (round === WARM) warm = size(db);
    placements = store.sqlite.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM events WHERE type = 'InstanceTransitioned' AND node IS NOT NULL").get()!.n;
  });
  const final = size(db);
  console.log(
    `maintained churn: ${runs.at(-1)!.newestSeq} events written, ${count(store)} kept (peak ${peakEvents}, ≤ ${perInterval} per interval); ` +
      `db ${final} B (warm ${warm} B, free ${runs.at(-1)!.freeBytes} B); WAL peak ${peakWal} B, after maintain 0 B; ` +
      `maintain ${Math.max(...runs.map((r) => r.ms))} ms at most`,
  );
  // The churn is real: instances were placed (the node stayed Ready), recently too.
  expect(placements).toBeGreaterThan(0);
  // The log: never more than the cap plus what one interval writes.
  expect(peakEvents).toBeLessThanOrEqual(CAP + perInterval);
  // The file: freed pages are reused, so past warm-up it no longer grows with the churn.
  // 1.5x leaves room for page-level fragmentation; without maintenance it doubles here.
  expect(final).toBeLessThanOrEqual(warm * 1.5);
  expect(final).toBeLessThan(4 * MiB);
  // The WAL: auto-checkpoints (every 64 MiB) bound it between calls; each call empties it.
  expect(peakWal).toBeLessThan(WAL_SIZE_LIMIT);
  await store.close();
});

test("sqlite: without maintenance the log and the database file keep growing (the bounds above are not free)", { timeout: 30_000 }, async () => {
  const dir = tempDir();
  const store = new SqliteStore(dir, { maxEvents: CAP });
  const db = join(dir, "tessera.db");
  let warm = 0;
  await churn(store, 600, (round) => {
    if (round === WARM) warm = size(db);
  });
  const final = size(db);
  console.log(`unmaintained churn: ${count(store)} events, db ${final} B (at round ${WARM}: ${warm} B)`);
  expect(count(store)).toBeGreaterThan(CAP * 10);
  // The very assertion the maintained run passes fails here.
  expect(final).toBeGreaterThan(warm * 1.5);
  await store.close();
});

for (const backend of storeBackends("retention on PostgreSQL")) {
  test.skipIf(backend.skip)(`${backend.name}: with maintenance the log stays at its cap, its newest end kept`, { timeout: 30_000 }, async () => {
    const cap = 500;
    // A large time budget: under load a delete can outlast the default's, and this test is about the cap (the budget has its own test below).
    const { store } = await backend.fresh({ maxEvents: cap, batch: 200, budgetMs: 10_000 });
    let maintained = 0;
    await churn(store, 60, async (round, now) => {
      if (round % 20 !== 19) return;
      const stats = await store.maintain(now);
      maintained += stats.deleted;
      expect(stats.more).toBe(false);
      expect((await logOf(store)).length).toBe(cap);
      expect(stats.oldestSeq).toBe(stats.newestSeq - cap + 1);
      expect(stats.newestSeq).toBe(store.history.newestSeq());
    });
    expect(maintained).toBeGreaterThan(cap);
    await store.close();
  });

  test.skipIf(backend.skip)(`${backend.name}: events older than the maximum age go, newer ones stay; derived tables are untouched`, async () => {
    const { store } = await backend.fresh({ maxEvents: 1_000_000, maxAgeMs: 10_500 });
    let end = 0;
    await churn(store, 20, (_, now) => void (end = now), { step: 1_000 });
    const cut = end - 10_500;
    const young = (await logOf(store)).filter((e) => e.event.at >= cut).length;
    const before = await store.load();
    const stats = await store.maintain(end);
    expect(stats.deleted).toBeGreaterThan(0);
    const kept = await logOf(store);
    expect(kept.length).toBe(young);
    expect(Math.min(...kept.map((e) => e.event.at))).toBeGreaterThanOrEqual(cut);
    const after = await store.load();
    expect([...after.nodes.keys()]).toEqual([...before.nodes.keys()]);
    expect(after.nextInstanceSeq).toBe(before.nextInstanceSeq);
    await store.close();
  });

  test.skipIf(backend.skip)(`${backend.name}: deleting stops at the time budget and says there is more`, async () => {
    const { store } = await backend.fresh({ maxEvents: 100, batch: 200, budgetMs: 0 });
    await churn(store, 20, () => {});
    const total = (await logOf(store)).length;
    const first = await store.maintain(2_000_000);
    // One batch per call with no budget: the caller is told to come back.
    expect(first.deleted).toBe(200);
    expect(first.more).toBe(true);
    let calls = 1;
    for (let more = first.more; more; calls++) more = (await store.maintain(2_000_000)).more;
    expect((await logOf(store)).length).toBe(100);
    expect(calls).toBe(Math.ceil((total - 100) / 200));
    await store.close();
  });

  test.skipIf(backend.skip)(`${backend.name}: a restart rebuilds crash-loop history from the log as the live state had it`, async () => {
    const { store, reopen } = await backend.fresh();
    const live = await churn(store, 40, () => {}, { step: 1_000, failEvery: 2 });
    // The churned workloads are deleted, and their failures with them: two stay, one of whose
    // quarantine is lifted (a restart must not bring those failures back).
    let now = 2_000_000;
    const turn = async (commands: Command[]) => {
      const r = runTurn(live, [{ type: "Heartbeat", node: "n1", session: 1 }, ...commands], { now: (now += 1_000), policy: DEFAULT_POLICY, reconcile: true });
      await store.commit(r.events, live);
      return r;
    };
    const started = await turn(["kept", "lifted"].map((name): Command => ({ type: "ApplyWorkload", name, labels: {}, spec: spec({ replicas: 2 }) })));
    await turn(
      started.effects.flatMap((e): Command[] =>
        e.type === "StartInstance" ? [{ type: "ReportInstance", node: "n1", instanceId: e.instanceId, generation: e.generation, state: "failed", reason: "exit 1", exitCode: 1 }] : [],
      ),
    );
    await turn([{ type: "LiftQuarantine", name: "lifted", node: "n1", by: "test" }]);
    expect([...live.crashes.keys()]).toEqual(["kept"]);
    const restarted = await reopen();
    expect((await restarted.load()).crashes).toEqual(live.crashes);
    await restarted.close();
    await store.close();
  });
}

test("sqlite: a reader pinning the WAL is reported, and does not stall the writer's maintenance", async () => {
  const dir = tempDir();
  const store = new SqliteStore(dir, { maxEvents: 500 });
  await churn(store, 20, () => {});
  // Another connection (a backup, a sqlite3 shell) holds a read snapshot open.
  const reader = new Database(join(dir, "tessera.db"), { readonly: true });
  reader.exec("BEGIN");
  reader.query("SELECT COUNT(*) FROM events").get();
  await churn(store, 5, () => {});
  const started = performance.now();
  const stats = await store.maintain(2_000_000);
  // No wait for the busy timeout (5 s): the checkpoint does what it can and says so.
  expect(performance.now() - started).toBeLessThan(1_000);
  expect(stats.checkpointBlocked).toBe(true);
  expect(stats.walBytesAfter).toBeGreaterThan(0);
  reader.exec("COMMIT");
  reader.close();
  const next = await store.maintain(2_000_000);
  expect(next.checkpointBlocked).toBe(false);
  expect(next.walBytesAfter).toBe(0);
  await store.close();
});

test("sqlite: a commit survives kill -9 right after it (synchronous=NORMAL, nothing checkpointed)", async () => {
  const dir = tempDir();
  const child = `
    import { SqliteStore } from ${JSON.stringify(join(import.meta.dir, "../../src/control/store/sqlite/store.ts"))};
    import { DEFAULT_POLICY } from ${JSON.stringify(join(import.meta.dir, "../../src/core/reconcile/reconcile.ts"))};
    import { runTurn } from ${JSON.stringify(join(import.meta.dir, "../../src/core/reconcile/turn.ts"))};
    import { spec } from ${JSON.stringify(join(import.meta.dir, "../core/fixtures.ts"))};
    const store = new SqliteStore(${JSON.stringify(dir)});
    const state = await store.load();
    let logged = 0;
    for (const commands of [
      [{ type: "AgentConnected", node: "n1", session: 1, executors: ["process"], version: "t", labels: {}, capacity: { cpuMillis: 4_000, memoryMb: 4_096 }, instances: [] }],
      [{ type: "ApplyWorkload", name: "web", labels: {}, spec: spec({ replicas: 3 }) }],
    ]) {
      const r = runTurn(state, commands, { now: 1_000, policy: DEFAULT_POLICY, reconcile: true });
      logged += (await store.commit(r.events, state)).length;
    }
    console.log(JSON.stringify({ logged, instances: state.instances.size, next: state.nextInstanceSeq }));
    process.kill(process.pid, "SIGKILL");
  `;
  const run = Bun.spawnSync([process.execPath, "-e", child], { stderr: "pipe" });
  expect(run.signalCode).toBe("SIGKILL");
  const committed = JSON.parse(run.stdout.toString()) as { logged: number; instances: number; next: number };
  // Everything is still in the WAL, which the dead process never checkpointed.
  expect(size(join(dir, "tessera.db-wal"))).toBeGreaterThan(0);
  const store = new SqliteStore(dir);
  const state = await store.load();
  expect(count(store)).toBe(committed.logged);
  expect(state.workloads.has("web")).toBe(true);
  expect(state.instances.size).toBe(committed.instances);
  expect(committed.instances).toBe(3);
  expect(state.nextInstanceSeq).toBe(committed.next);
  expect(state.nodes.has("n1")).toBe(true);
  await store.close();
});
