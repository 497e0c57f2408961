import { describe, expect, test } from "bun:test";
import { emptyState } from "../../src/core/model/cluster-state.js";
import fc from "fast-check";
import { applyChange, copyLabel, type FleetChange, fleetChange, fleetOf, fleetSnapshot, HeldNodes, mergeChanges, nodeLabel, STATE_LETTER } from "../../src/core/views/fleet-view.js";
import { INSTANCE_STATES } from "../../src/core/model/instance-machine.js";
import { WorkloadKind } from "../../src/gen/tessera/v1/types.js";
import { apply, created, DEFAULT_RESOURCES, nodeConnected, spec, T0, transitioned, workloadApplied } from "./fixtures.js";

/** node-a with web-0 running on it and web-1 pending. */
function fleet() {
  return apply(emptyState(), [
    nodeConnected("node-a", T0),
    workloadApplied("web", T0, { spec: spec({ replicas: 2 }) }),
    created("web-0.1", T0),
    created("web-1.2", T0, { reason: "no node has room" }),
    transitioned("web-0.1", T0, { type: "place", node: "node-a", ports: [] }),
    transitioned("web-0.1", T0, { type: "provision" }),
    transitioned("web-0.1", T0, { type: "run" }),
  ]);
}

describe("fleet view", () => {
  test("a snapshot has every node, copy and workload, with the node's use and the rollout's progress", () => {
    const s = fleetSnapshot(fleet(), 7);
    expect(s.seq).toBe(7);
    expect(s.nodes).toEqual([{ name: "node-a", health: "ready", cordoned: false, draining: false, capacity: expect.any(Object), allocated: DEFAULT_RESOURCES, labels: {} }]);
    expect(s.copies.map((c) => [c.name, c.state, c.node, c.ready])).toEqual([
      ["web-0", "running", "node-a", true],
      ["web-1", "pending", null, false],
    ]);
    expect(s.workloads).toEqual([{ name: "web", kind: "service", generation: 1, deleting: false, desired: 2, ready: 1, upToDate: 2, hold: "", paused: false, schedule: "", createdAt: T0 }]);
  });

  test("a workload's ready count is `get workloads`' READY: an old copy still serving during a rollout counts; UP-TO-DATE only the new spec's", () => {
    const state = apply(fleet(), [workloadApplied("web", T0 + 1, { spec: spec({ replicas: 2, args: ["v2"] }), generation: 2 })]);
    expect(fleetSnapshot(state, 8).workloads).toEqual([{ name: "web", kind: "service", generation: 2, deleting: false, desired: 2, ready: 1, upToDate: 0, hold: "", paused: false, schedule: "", createdAt: T0 }]);
  });

  test("a periodic batch's tile carries its schedule, with its time zone when one is set, and wants no copy (its runs do)", () => {
    const state = apply(fleet(), [
      workloadApplied("backup", T0, { spec: spec({ kind: WorkloadKind.WORKLOAD_KIND_BATCH, schedule: "0 3 * * *", timeZone: "Europe/Paris" }) }),
      workloadApplied("nightly", T0, { spec: spec({ kind: WorkloadKind.WORKLOAD_KIND_BATCH, schedule: "@daily" }) }),
    ]);
    expect(fleetSnapshot(state, 9).workloads.map((w) => [w.name, w.schedule, w.desired])).toEqual([
      ["web", "", 2],
      ["backup", "0 3 * * * (Europe/Paris)", 0],
      ["nightly", "@daily", 0],
    ]);
  });

  test("a change carries what a commit touched, with each touched copy's workload and the nodes whose use moved", () => {
    const state = fleet();
    const held = new HeldNodes(state);
    apply(state, [transitioned("web-0.1", T0, { type: "fail", reason: "exited with code 1" })]);
    const moved = held.refresh(state, ["web-0.1"]);
    expect([...moved]).toEqual(["node-a"]);
    const c = fleetChange(state, 8, { workloads: [], instances: ["web-0.1"], nodes: moved });
    expect(c.copies.map((x) => [x.id, x.state, x.reason])).toEqual([["web-0.1", "failed", "exited with code 1"]]);
    expect(c.nodes.map((n) => [n.name, n.allocated.cpuMillis])).toEqual([["node-a", 0]]);
    expect(c.workloads.map((w) => [w.name, w.ready])).toEqual([["web", 0]]);
  });

  test("a touched workload does not bring its copies; what is gone is named, a gone copy's workload with it", () => {
    const state = fleet();
    expect(fleetChange(state, 9, { workloads: ["web"], instances: [], nodes: [] }).copies).toEqual([]);
    const gone = fleetChange(state, 9, { workloads: [], instances: ["db-0.3"], nodes: ["node-z"] });
    expect([gone.goneWorkloads, gone.goneCopies, gone.goneNodes]).toEqual([["db"], ["db-0.3"], ["node-z"]]);
  });

  test("HeldNodes names, for each commit's copies, the nodes whose use moved: one a copy left, one it came to", () => {
    const state = fleet();
    const held = new HeldNodes(state);
    const steps: Array<[ReturnType<typeof transitioned>[], string[]]> = [
      [[created("web-2.3", T0), transitioned("web-2.3", T0, { type: "place", node: "node-a", ports: [] })], ["node-a"]],
      [[transitioned("web-2.3", T0, { type: "provision" })], []],
      [[transitioned("web-0.1", T0, { type: "stop", reason: "scaled down" })], []],
      [[transitioned("web-0.1", T0, { type: "finish" })], ["node-a"]],
    ];
    for (const [events, moved] of steps) {
      apply(state, events);
      expect([...held.refresh(state, events.map((e) => (e as { id: string }).id))]).toEqual(moved);
    }
    expect(fleetChange(state, 9, { workloads: [], instances: [], nodes: ["node-a"] }).nodes[0]!.allocated).toEqual(DEFAULT_RESOURCES);
  });

  test("the page folds changes into its fleet and ignores one older than what it holds", () => {
    const state = fleet();
    const f = fleetOf(fleetSnapshot(state, 7));
    apply(state, [transitioned("web-0.1", T0, { type: "fail", reason: "boom" })]);
    applyChange(f, fleetChange(state, 8, { workloads: [], instances: ["web-0.1", "web-9.9"], nodes: [] }));
    expect(f.copies.get("web-0.1")!.state).toBe("failed");
    expect(f.seq).toBe(8);
    applyChange(f, fleetChange(fleet(), 5, { workloads: [], instances: ["web-0.1"], nodes: [] }));
    expect(f.copies.get("web-0.1")!.state).toBe("failed");
  });

  test("every state has its own letter; labels name the copy, its state and its node", () => {
    expect(new Set(INSTANCE_STATES.map((s) => STATE_LETTER[s])).size).toBe(INSTANCE_STATES.length);
    const [running, pending] = fleetSnapshot(fleet(), 1).copies;
    expect(copyLabel(running!)).toBe("web-0 Running Ready on node-a");
    expect(copyLabel(pending!)).toBe("web-1 Pending: no node has room");
    const node = fleetSnapshot(fleet(), 1).nodes[0]!;
    expect(nodeLabel({ ...node, cordoned: true }, 1)).toBe("node-a Ready, cordoned, 1 copy, 100m of 4000m CPU, 64 of 8192 MB");
  });
});

describe("mergeChanges", () => {
  const tileArb = (keys: string[]) => fc.constantFrom(...keys).chain((k) => fc.nat({ max: 9 }).map((v) => ({ k, v })));
  const changeArb = (seq: number) =>
    fc
      .record({
        nodes: fc.array(tileArb(["n1", "n2", "n3"]), { maxLength: 4 }),
        copies: fc.array(tileArb(["c1", "c2", "c3", "c4"]), { maxLength: 5 }),
        goneNodes: fc.array(fc.constantFrom("n1", "n2", "n3"), { maxLength: 2 }),
        goneCopies: fc.array(fc.constantFrom("c1", "c2", "c3", "c4"), { maxLength: 3 }),
      })
      .map(
        (r): FleetChange => ({
          seq,
          nodes: r.nodes.map(({ k, v }) => ({ name: k, health: "ready", cordoned: v % 2 === 0, draining: false, capacity: { cpuMillis: v, memoryMb: v }, allocated: { cpuMillis: 0, memoryMb: 0 }, labels: {} })),
          copies: r.copies.map(({ k, v }) => ({ id: k, name: k, workload: "w", generation: v, state: "running", desired: "run", ready: true, node: null, ports: [], reason: "" })),
          workloads: [],
          goneNodes: r.goneNodes,
          goneCopies: r.goneCopies,
          goneWorkloads: [],
        }),
      );

  test("merged changes fold into what the changes fold into one after another (the hub's flush window)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 6 }).chain((ns) => fc.tuple(...ns.map((_, i) => changeArb(i + 1)))), (changes) => {
        const one = fleetOf(fleetSnapshot(fleet(), 0));
        const merged = fleetOf(fleetSnapshot(fleet(), 0));
        for (const c of changes) applyChange(one, c);
        applyChange(merged, changes.reduce(mergeChanges));
        expect(merged).toEqual(one);
      }),
      { seed: 20261127, numRuns: 300 },
    );
  });
});
