/**
 * A turn's rows as each store writes them (PostgreSQL: one statement per table whatever the
 * number of its rows, postgres/recordset.ts; SQLite: 64 rows to a statement, the rest one at a time):
 * a turn bigger than any batch, and not a multiple of one, commits whole, its events
 * numbered in log order, and every row reads back as the state held it, strings the SQL or the
 * JSON would otherwise mangle included; rows overwritten by a later turn and rows deleted too.
 */
import { expect, test } from "bun:test";
import { instanceToRow, workloadToRow } from "../../src/control/store/rows.js";
import type { Store } from "../../src/control/store/store.js";
import type { Command } from "../../src/core/decide/commands.js";
import type { ClusterState } from "../../src/core/model/cluster-state.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { runTurn } from "../../src/core/reconcile/turn.js";
import { spec } from "../core/fixtures.js";
import { storeBackends } from "./store-backends.js";

/** More than one statement's worth of rows before (1,000), in one turn. */
const WORKLOADS = 1_200;
/** Quotes, escapes, placeholders, JSON and SQL look-alikes, characters beyond the BMP, a line separator. */
const AWKWARD = ["it's", '"quoted"', "back\\slash", "$1 ::json", '{"not":"a row"}', "'); DROP TABLE events; --", "ünïcødé ☃ 𝄞", "line\u2028sep\nnew\ttab", ""];

const rowsOf = (state: ClusterState) => ({
  workloads: [...state.workloads.values()].map(workloadToRow).sort((a, b) => a.name.localeCompare(b.name)),
  instances: [...state.instances.values()].map(instanceToRow).sort((a, b) => a.id.localeCompare(b.id)),
  nextInstanceSeq: state.nextInstanceSeq,
});

async function logged(store: Store) {
  return (await store.history.eventsAfter(0, 1_000_000)).map((e) => ({ seq: e.seq, type: e.event.type, instance: e.instance, workload: e.workload }));
}

for (const backend of storeBackends("a turn's rows on PostgreSQL")) {
  test.skipIf(backend.skip)(`${backend.name}: a turn of ${WORKLOADS} placements commits whole, numbered in log order; awkward strings, overwrites and deletes read back as the state holds them`, { timeout: 30_000 }, async () => {
    const { store, reopen } = await backend.fresh();
    const state = await store.load();
    let now = 1_000_000;
    const turn = async (commands: Command[]) => {
      now += 10;
      const r = runTurn(state, commands, { now, policy: DEFAULT_POLICY, reconcile: true });
      return { ...r, stored: await store.commit(r.events, state) };
    };
    await turn([{ type: "AgentConnected", node: "n1", session: 1, executors: ["process"], version: "t", labels: {}, capacity: { cpuMillis: 10_000_000, memoryMb: 10_000_000 }, instances: [] }]);
    const env = Object.fromEntries(AWKWARD.map((v, i) => [`E${i}`, v]));
    const applied = await turn(Array.from({ length: WORKLOADS }, (_, i): Command => ({ type: "ApplyWorkload", name: `w${i}`, labels: {}, spec: spec({ args: AWKWARD, env }) })));
    const starts = applied.effects.flatMap((e) => (e.type === "StartInstance" ? [e] : []));
    expect(starts).toHaveLength(WORKLOADS);
    // What the writer hands Watch and the followers is what the log holds, seq for seq.
    const mine = applied.stored.map((e) => ({ seq: e.seq, type: e.event.type, instance: e.instance, workload: e.workload }));
    expect(mine.length).toBeGreaterThan(2 * WORKLOADS);
    expect(mine.map((e, i) => e.seq - mine[0]!.seq - i).every((d) => d === 0)).toBe(true);
    expect((await logged(store)).filter((e) => e.seq >= mine[0]!.seq)).toEqual(mine);

    // A later turn overwrites rows (running, failed with an awkward reason) and deletes others.
    await turn(starts.map((e, i): Command => (i % 3 === 0
      ? { type: "ReportInstance", node: "n1", instanceId: e.instanceId, generation: e.generation, state: "failed", reason: AWKWARD.join("|"), exitCode: 3, stderrTail: AWKWARD.join("\n") }
      : { type: "ReportInstance", node: "n1", instanceId: e.instanceId, generation: e.generation, state: "running", reason: "" })));
    const deleting = await turn(Array.from({ length: WORKLOADS / 4 }, (_, i): Command => ({ type: "DeleteWorkload", name: `w${i * 4 + 1}` })));
    await turn(deleting.effects.flatMap((e): Command[] => (e.type === "StopInstance" ? [{ type: "ReportInstance", node: "n1", instanceId: e.instanceId, generation: e.generation, state: "stopped", reason: "" }] : [])));
    expect(state.workloads.size).toBeLessThan(WORKLOADS);
    await store.close();

    const restarted = await reopen();
    const loaded = await restarted.load();
    expect(rowsOf(loaded)).toEqual(rowsOf(state));
    expect(loaded.instances.size).toBeGreaterThan(0);
    await restarted.close();
  });
}

for (const backend of storeBackends("a refused turn on PostgreSQL").filter((b) => b.name === "postgres")) {
  test.skipIf(backend.skip)("postgres: a turn the database refuses (a NUL byte in a row) is refused in one line naming the statement and PostgreSQL's reason, not its rows; nothing of it is written", async () => {
    const { store, reopen } = await backend.fresh();
    const state = await store.load();
    const turn = (commands: Command[]) => runTurn(state, commands, { now: 1_000_000, policy: DEFAULT_POLICY, reconcile: true });
    await store.commit(turn([{ type: "AgentConnected", node: "n1", session: 1, executors: ["process"], version: "t", labels: {}, capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, instances: [] }]).events, state);
    const applied = turn(Array.from({ length: 50 }, (_, i): Command => ({ type: "ApplyWorkload", name: `w${i}`, labels: {}, spec: spec() })));
    await store.commit(applied.events, state);
    const starts = applied.effects.flatMap((e) => (e.type === "StartInstance" ? [e] : []));
    const failed = turn(starts.map((e): Command => ({ type: "ReportInstance", node: "n1", instanceId: e.instanceId, generation: e.generation, state: "failed", reason: "exit 1", exitCode: 1, stderrTail: "a NUL \0 in its stderr" })));
    // The core records an agent's NUL as U+FFFD (the test below): a row holding one stands for any text PostgreSQL refuses.
    for (const i of state.instances.values()) if (i.state === "failed") i.stderrTail = "a NUL \0 in its stderr";
    const refused = await store.commit(failed.events, state).then(() => undefined, (err: Error) => err);
    expect(refused?.message).toStartWith('the database refused INSERT INTO "instances" …: invalid byte sequence for encoding "UTF8": 0x00');
    expect(refused!.message.length).toBeLessThan(200);
    await store.close();

    const restarted = await reopen();
    expect([...(await restarted.load()).instances.values()].filter((i) => i.state === "failed")).toEqual([]);
    await restarted.close();
  });
}

/** A fresh store of `backend` with node n1 connected, committed; `turn` runs the writer's turn on its state. */
async function withNode(backend: ReturnType<typeof storeBackends>[number], reconcile: boolean) {
  const { store } = await backend.fresh();
  const state = await store.load();
  const turn = (commands: Command[]) => runTurn(state, commands, { now: 1_000_000, policy: DEFAULT_POLICY, reconcile });
  await store.commit(turn([{ type: "AgentConnected", node: "n1", session: 1, executors: ["process"], version: "t", labels: {}, capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, instances: [] }]).events, state);
  return { store, state, turn };
}

for (const backend of storeBackends("an agent's NUL byte on PostgreSQL").filter((b) => b.name === "postgres")) {
  test.skipIf(backend.skip)("postgres: a failure whose stderr holds a NUL byte commits, recorded with U+FFFD, and the store takes the next turn", async () => {
    const { store, state, turn } = await withNode(backend, true);
    const applied = turn([{ type: "ApplyWorkload", name: "w", labels: {}, spec: spec() }]);
    await store.commit(applied.events, state);
    const start = applied.effects.find((e) => e.type === "StartInstance")!;
    const failed = turn([{ type: "ReportInstance", node: "n1", instanceId: start.instanceId, generation: start.generation, state: "failed", reason: "exit\0 1", exitCode: 1, stderrTail: "a NUL \0 in its stderr" }]);
    await store.commit(failed.events, state);
    const stored = (await store.load()).instances.get(start.instanceId)!;
    expect([stored.reason, stored.stderrTail]).toEqual(["exit\uFFFD 1", "a NUL \uFFFD in its stderr"]);
    await store.close();
  });
}

for (const backend of storeBackends("a turn with nothing to write on PostgreSQL").filter((b) => b.name === "postgres")) {
  test.skipIf(backend.skip)("postgres: a turn of volatile events only (heartbeats) writes nothing and sends nothing: it commits without a connection", async () => {
    const { store, state, turn } = await withNode(backend, false);
    const beat = turn([{ type: "Heartbeat", node: "n1", session: 1 }]);
    expect(beat.events.length).toBeGreaterThan(0);
    // Closed: whatever would be sent now fails.
    await store.close();
    expect(await store.commit(beat.events, state)).toEqual([]);
    await expect(store.commit(turn([{ type: "ApplyWorkload", name: "w", labels: {}, spec: spec() }]).events, state)).rejects.toThrow();
  });
}
