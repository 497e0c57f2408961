/** Placement: feasibility reasons, spread and binpack scoring, ties by name, no overcommit. */
import { describe, expect, test } from "bun:test";
import type { Command } from "../../src/core/decide/commands.js";
import { CANDIDATE_LIMIT } from "../../src/core/reconcile/placement.js";
import { DEFAULT_POLICY, type Policy } from "../../src/core/reconcile/reconcile.js";
import { type FleetNode, SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { spec } from "./fixtures.js";

const node = (name: string, cpu = 4000, mem = 4096, labels: Record<string, string> = {}): FleetNode => ({
  name,
  capacity: { cpuMillis: cpu, memoryMb: mem },
  labels,
});

function connectedFleet(nodes: FleetNode[], policy: Policy = DEFAULT_POLICY): SimulatedFleet {
  const fleet = new SimulatedFleet(policy);
  for (const n of nodes) fleet.connect(n);
  fleet.turn();
  return fleet;
}

const apply = (name: string, o: Parameters<typeof spec>[0] = {}): Command => ({ type: "ApplyWorkload", name, labels: {}, spec: spec(o) });

function placements(fleet: SimulatedFleet, workload: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of fleet.state.instances.values()) if (i.workload === workload && i.node) out[i.node] = (out[i.node] ?? 0) + 1;
  return out;
}

describe("placement", () => {
  test("copies that fit nowhere all wait with the reason; a smaller or differently constrained copy is judged afresh", () => {
    const fleet = connectedFleet([node("a", 1000), node("b", 1000, 4096, { zone: "x" })]);
    const big = { cpuMillis: 2000, memoryMb: 64 };
    const r = fleet.turn([
      apply("big-1", { resources: big }),
      apply("big-2", { resources: big }),
      apply("big-zoned", { resources: big, nodeSelector: { zone: "x" } }),
      apply("small", { resources: { cpuMillis: 100, memoryMb: 64 } }),
    ]);
    expect(r.plan!.pend.map((p) => [p.workload, p.reason])).toEqual([
      ["big-1", "no node fits (2 short of cpu)"],
      ["big-2", "no node fits (2 short of cpu)"],
      ["big-zoned", "no node fits (1 lacks label zone=x, 1 short of cpu)"],
    ]);
    expect(r.plan!.place.map((p) => p.workload)).toEqual(["small"]);
  });

  test("spread puts replicas on distinct nodes, ties broken by name", () => {
    const fleet = connectedFleet([node("c"), node("a"), node("b")]);
    const r = fleet.turn([apply("web", { replicas: 4 })]);
    expect(r.plan!.place.map((p) => p.node)).toEqual(["a", "b", "c", "a"]);
  });

  test("binpack fills the fullest node that still fits", () => {
    const fleet = connectedFleet([node("a"), node("b")], { ...DEFAULT_POLICY, placement: "binpack" });
    fleet.turn([apply("web", { replicas: 3, resources: { cpuMillis: 1000, memoryMb: 1024 } })]);
    fleet.turn([apply("api", { replicas: 2, resources: { cpuMillis: 1000, memoryMb: 1024 } })]);
    expect(placements(fleet, "web")).toEqual({ a: 3 });
    expect(placements(fleet, "api")).toEqual({ a: 1, b: 1 });
  });

  test("binpack on a fleet larger than CANDIDATE_LIMIT fills nodes one after another", () => {
    const nodes = Array.from({ length: CANDIDATE_LIMIT * 3 }, (_, i) => node(`n-${String(i).padStart(3, "0")}`));
    const fleet = connectedFleet(nodes, { ...DEFAULT_POLICY, placement: "binpack" });
    // 100 replicas of 500m on 4,000m nodes: 8 fit on a node, so 13 nodes hold them all.
    fleet.turn([apply("web", { replicas: 100, resources: { cpuMillis: 500, memoryMb: 64 } })]);
    const used = placements(fleet, "web");
    expect(Object.keys(used)).toHaveLength(13);
    expect(Object.values(used).filter((n) => n === 8)).toHaveLength(12);
  });

  test("never overcommits: what does not fit stays Pending with the reason", () => {
    const fleet = connectedFleet([node("a", 1000, 1024), node("b", 1000, 512)]);
    const r = fleet.turn([apply("web", { replicas: 3, resources: { cpuMillis: 600, memoryMb: 512 } })]);
    expect(r.plan!.place.map((p) => p.node)).toEqual(["a", "b"]);
    expect(r.plan!.pend).toHaveLength(1);
    expect(r.plan!.pend[0]!.reason).toBe("no node fits (2 short of cpu)");
    const pending = [...fleet.state.instances.values()].filter((i) => i.state === "pending");
    expect(pending.map((i) => i.name)).toEqual(["web-2"]);
  });

  test("a Pending instance is scheduled when room appears", () => {
    const fleet = connectedFleet([node("a", 1000, 1024)]);
    fleet.turn([apply("web", { replicas: 2, resources: { cpuMillis: 600, memoryMb: 256 } })]);
    fleet.connect(node("b"));
    const r = fleet.turn();
    expect(r.plan!.schedule).toEqual([{ instance: "web-1.2", node: "b" }]);
  });

  test("node_selector, executor kind, cordon and health narrow the candidates", () => {
    const fleet = connectedFleet([node("a", 4000, 4096, { zone: "x" }), node("b", 4000, 4096, { zone: "y" }), node("c", 4000, 4096, { zone: "y" })]);
    fleet.turn([{ type: "CordonNode", node: "c" }]);
    fleet.turn([apply("pinned", { replicas: 2, nodeSelector: { zone: "y" } })]);
    expect(placements(fleet, "pinned")).toEqual({ b: 2 });
    const r = fleet.turn([apply("nowhere", { nodeSelector: { zone: "z" } })]);
    expect(r.plan!.pend[0]!.reason).toBe("no node fits (2 lacks label zone=z, 1 cordoned)");
  });

  test("a crash-looping workload avoids the node it keeps failing on", () => {
    const fleet = connectedFleet([node("a"), node("b")], { ...DEFAULT_POLICY, crashLoopFailures: 2 });
    fleet.turn([apply("web", { restartPolicy: { mode: 1, initialBackoff: { seconds: 0, nanos: 0 } } })]);
    fleet.settle();
    const onA = () => [...fleet.state.instances.values()].find((i) => i.state === "running")!;
    expect(onA().node).toBe("a");
    fleet.crash(onA().id);
    fleet.turn();
    fleet.settle();
    // One failure: a is still the best spread choice.
    expect(onA().node).toBe("a");
    fleet.crash(onA().id);
    fleet.turn();
    fleet.settle();
    expect(onA().node).toBe("b");
  });
});
