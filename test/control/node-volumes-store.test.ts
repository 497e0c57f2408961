/**
 * A node's host volumes and limits in the store (each kind): kept with its row and restored on a restart
 * (placement after a restart judges nodes by them before their agents say hello again); a node
 * whose agent declared none (or predates them) has none.
 */
import { expect, test } from "bun:test";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { runTurn } from "../../src/core/reconcile/turn.js";
import { storeBackends } from "./store-backends.js";

for (const backend of storeBackends("node volumes on PostgreSQL")) {
  test.skipIf(backend.skip)(`${backend.name}: a node's host volumes survive a restart of the store; a node that declared none has none`, async () => {
    const { store, reopen } = await backend.fresh();
    const state = await store.load();
    const volumes = [
      { name: "data", path: "/srv/data", readOnly: false },
      { name: "logs", path: "/var/log", readOnly: true },
    ];
    const connect = (node: string, over: { volumes?: typeof volumes }) =>
      runTurn(state, [{ type: "AgentConnected", node, session: 1, executors: ["process"], version: "t", labels: {}, capacity: { cpuMillis: 1000, memoryMb: 1024 }, instances: [], ...over }], { now: 1_000_000, policy: DEFAULT_POLICY, reconcile: false });
    await store.commit(connect("a", { volumes }).events, state);
    await store.commit(connect("b", {}).events, state);
    await store.close();

    const restarted = await reopen();
    const nodes = (await restarted.load()).nodes;
    expect(nodes.get("a")!.volumes).toEqual(volumes);
    expect(nodes.get("b")!.volumes).toEqual([]);
    await restarted.close();
  });
}

for (const backend of storeBackends("node limits on PostgreSQL")) {
  test.skipIf(backend.skip)(`${backend.name}: what a node's agent said of limits survives a restart of the store (a standby's snapshot holds it too); one that said nothing has none`, async () => {
    const { store, reopen } = await backend.fresh();
    const state = await store.load();
    const limits = { enforcedBy: "cgroup v1", notEnforcedReason: "", allowUnenforced: false };
    const connect = (node: string, over: { limits?: typeof limits }) =>
      runTurn(state, [{ type: "AgentConnected", node, session: 1, executors: ["process"], version: "t", labels: {}, capacity: { cpuMillis: 1000, memoryMb: 1024 }, instances: [], ...over }], { now: 1_000_000, policy: DEFAULT_POLICY, reconcile: false });
    await store.commit(connect("a", { limits }).events, state);
    await store.commit(connect("b", {}).events, state);
    await store.close();

    const restarted = await reopen();
    const nodes = (await restarted.load()).nodes;
    expect(nodes.get("a")!.limits).toEqual(limits);
    expect(nodes.get("b")!.limits).toBeUndefined();
    await restarted.close();
  });
}
