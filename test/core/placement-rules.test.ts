/** A workload's own placement rules: maxPerNode, spread (soft, hard, targets), affinity, through rollouts, drains and node loss. */
import { describe, expect, test } from "bun:test";
import type { Command } from "../../src/core/decide/commands.js";
import { DEFAULT_POLICY, type Policy } from "../../src/core/reconcile/reconcile.js";
import { type FleetNode, SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { WhenUnsatisfiable, type Placement, type WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { describeRejection } from "../../src/core/model/rejections.js";
import { validateWorkload } from "../../src/core/model/validate.js";
import { WorkloadKind } from "../../src/gen/tessera/v1/types.js";
import { spec, specWithoutSoak } from "./fixtures.js";

const node = (name: string, labels: Record<string, string> = {}, cpu = 4000): FleetNode => ({ name, capacity: { cpuMillis: cpu, memoryMb: 4096 }, labels });

function connectedFleet(nodes: FleetNode[], policy: Policy = DEFAULT_POLICY): SimulatedFleet {
  const fleet = new SimulatedFleet(policy);
  for (const n of nodes) fleet.connect(n);
  fleet.turn();
  return fleet;
}

const placement = (p: Partial<Placement>): Placement => ({ maxPerNode: 0, spread: [], affinity: [], ...p });
const apply = (name: string, p: Partial<Placement>, over: Partial<WorkloadSpec> = {}): Command => ({
  type: "ApplyWorkload",
  name,
  labels: {},
  spec: specWithoutSoak({ placement: placement(p), ...over }),
});
const zones = (n: number, zone: string, prefix = zone) => Array.from({ length: n }, (_, i) => node(`${prefix}-${i}`, { zone }));

/** Copies of `workload` holding each node (placed, not yet gone). */
function perNode(fleet: SimulatedFleet, workload: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of fleet.state.instances.values()) if (i.workload === workload && i.node && i.desired === "run" && i.state !== "failed") out[i.node] = (out[i.node] ?? 0) + 1;
  return out;
}
function perZone(fleet: SimulatedFleet, workload: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, n] of Object.entries(perNode(fleet, workload))) {
    const zone = name.split("-")[0]!;
    out[zone] = (out[zone] ?? 0) + n;
  }
  return out;
}
const pending = (fleet: SimulatedFleet, workload: string) => [...fleet.state.instances.values()].filter((i) => i.workload === workload && i.state === "pending");

describe("maxPerNode", () => {
  test("3 copies at 1 per node on 2 nodes: one waits with the reason, and is placed when a third node joins", () => {
    const fleet = connectedFleet([node("a"), node("b")]);
    const r = fleet.turn([apply("db", { maxPerNode: 1 }, { replicas: 3 })]);
    expect(r.plan!.place.map((p) => p.node)).toEqual(["a", "b"]);
    expect(r.plan!.pend.map((p) => p.reason)).toEqual(["no node fits (2 nodes already hold 1 copy of db (maxPerNode 1))"]);
    fleet.settle();
    expect(pending(fleet, "db")).toHaveLength(1);
    fleet.connect(node("c"));
    fleet.settle();
    expect(perNode(fleet, "db")).toEqual({ a: 1, b: 1, c: 1 });
  });

  test("binpack fills a node only up to the cap", () => {
    const fleet = connectedFleet([node("a"), node("b")], { ...DEFAULT_POLICY, placement: "binpack" });
    fleet.turn([apply("db", { maxPerNode: 2 }, { replicas: 4 })]);
    expect(perNode(fleet, "db")).toEqual({ a: 2, b: 2 });
  });

  test("one node at its cap reads in the singular; the cap counts only this workload", () => {
    const fleet = connectedFleet([node("a")]);
    fleet.turn([apply("other", {}, { replicas: 2 })]);
    const r = fleet.turn([apply("db", { maxPerNode: 2 }, { replicas: 3 })]);
    expect(r.plan!.pend.map((p) => p.reason)).toEqual(["no node fits (1 node already holds 2 copies of db (maxPerNode 2))"]);
  });

  test("a rollout on a full fleet stops an old copy first instead of waiting forever for a second slot", () => {
    const fleet = connectedFleet([node("a"), node("b"), node("c")]);
    fleet.turn([apply("db", { maxPerNode: 1 }, { replicas: 3 })]);
    fleet.settle();
    fleet.turn([apply("db", { maxPerNode: 1 }, { replicas: 3, args: ["2000"] })]);
    let most = 0;
    fleet.onTurn = (_, f) => (most = Math.max(most, ...Object.values(perNode(f, "db"))));
    fleet.settle();
    fleet.advance(5_000);
    fleet.settle();
    expect(most).toBe(1);
    const copies = [...fleet.state.instances.values()].filter((i) => i.workload === "db" && i.desired === "run");
    expect(copies.map((i) => [i.generation, i.state])).toEqual([
      [2, "running"],
      [2, "running"],
      [2, "running"],
    ]);
  });

  test("a drain that would put two copies on a node waits and says so, and goes on once a node joins", () => {
    const fleet = connectedFleet([node("a"), node("b"), node("c")]);
    fleet.turn([apply("db", { maxPerNode: 1 }, { replicas: 3 })]);
    fleet.settle();
    const r = fleet.turn([{ type: "DrainNode", node: "c" }]);
    fleet.settle();
    expect(perNode(fleet, "db")).toEqual({ a: 1, b: 1, c: 1 });
    const skips = fleet.plans.at(-1)!.skip.filter((s) => s.workload === "db");
    expect(skips.map((s) => s.reason)).toEqual(["drain waits for room: no node fits (2 nodes already hold 1 copy of db (maxPerNode 1), 1 draining)"]);
    expect(r.plan).toBeDefined();
    fleet.connect(node("d"));
    fleet.settle();
    expect(perNode(fleet, "db")).toEqual({ a: 1, b: 1, d: 1 });
  });

  test("a copy lost with its node is placed again only where the cap allows", () => {
    const fleet = connectedFleet([node("a"), node("b"), node("c")]);
    fleet.turn([apply("db", { maxPerNode: 1 }, { replicas: 3 })]);
    fleet.settle();
    fleet.kill("c");
    fleet.advance(60_000);
    fleet.settle();
    expect(perNode(fleet, "db")).toMatchObject({ a: 1, b: 1 });
    expect(pending(fleet, "db")).toHaveLength(1);
  });
});

describe("spread", () => {
  test("soft, even: copies alternate between zones whatever the node names", () => {
    const fleet = connectedFleet([...zones(4, "a"), ...zones(2, "b")]);
    fleet.turn([apply("web", { spread: [{ label: "zone", weight: 0, targets: [], whenUnsatisfiable: 0 }] }, { replicas: 6 })]);
    expect(perZone(fleet, "web")).toEqual({ a: 3, b: 3 });
  });

  test("soft with targets: 70/30", () => {
    const fleet = connectedFleet([...zones(3, "a"), ...zones(3, "b")]);
    const targets = [{ value: "a", percent: 70 }, { value: "b", percent: 30 }];
    fleet.turn([apply("web", { spread: [{ label: "zone", weight: 0, targets, whenUnsatisfiable: 0 }] }, { replicas: 10 })]);
    expect(perZone(fleet, "web")).toEqual({ a: 7, b: 3 });
  });

  test("soft: when one zone is full, copies go to the other anyway", () => {
    const fleet = connectedFleet([node("a-0", { zone: "a" }, 200), node("b-0", { zone: "b" })]);
    fleet.turn([apply("web", { spread: [{ label: "zone", weight: 0, targets: [], whenUnsatisfiable: WhenUnsatisfiable.WHEN_UNSATISFIABLE_SCHEDULE }] }, { replicas: 4 })]);
    expect(perZone(fleet, "web")).toEqual({ a: 2, b: 2 });
    fleet.turn([apply("web", { spread: [{ label: "zone", weight: 0, targets: [], whenUnsatisfiable: WhenUnsatisfiable.WHEN_UNSATISFIABLE_SCHEDULE }] }, { replicas: 6, resources: undefined })]);
    expect(perZone(fleet, "web")).toEqual({ a: 2, b: 4 });
  });

  test("hard, even: never more than one copy apart between zones with room; nodes without the label are not chosen", () => {
    const fleet = connectedFleet([...zones(3, "a"), ...zones(1, "b"), node("x")]);
    const r = fleet.turn([apply("web", { spread: [{ label: "zone", weight: 0, targets: [], whenUnsatisfiable: WhenUnsatisfiable.WHEN_UNSATISFIABLE_WAIT }] }, { replicas: 5 })]);
    expect(r.plan!.pend).toEqual([]);
    expect(perZone(fleet, "web")).toEqual({ a: 3, b: 2 });
    expect(perNode(fleet, "web").x).toBeUndefined();
  });

  test("hard, even: a zone with no room left does not hold the others back", () => {
    const fleet = connectedFleet([node("a-0", { zone: "a" }, 200), node("b-0", { zone: "b" }), node("c-0", { zone: "c" })]);
    fleet.turn([apply("web", { spread: [{ label: "zone", weight: 0, targets: [], whenUnsatisfiable: WhenUnsatisfiable.WHEN_UNSATISFIABLE_WAIT }] }, { replicas: 7 })]);
    expect(perZone(fleet, "web")).toEqual({ a: 2, b: 3, c: 2 });
  });

  test("hard with targets: a copy beyond a zone's share waits with the reason", () => {
    const fleet = connectedFleet([...zones(2, "a"), node("b-0", { zone: "b" }, 200)]);
    const targets = [{ value: "a", percent: 50 }, { value: "b", percent: 50 }];
    const r = fleet.turn([apply("web", { spread: [{ label: "zone", weight: 0, targets, whenUnsatisfiable: WhenUnsatisfiable.WHEN_UNSATISFIABLE_WAIT }] }, { replicas: 6 })]);
    expect(perZone(fleet, "web")).toEqual({ a: 3, b: 2 });
    expect(r.plan!.pend.map((p) => p.reason)).toEqual(["no node fits (2 zone=a holds 3 copies of web, its share (50%) (spread, wait), 1 short of cpu)"]);
  });
});

describe("affinity", () => {
  test("prefers matching nodes without excluding the others; a negative weight avoids", () => {
    const fleet = connectedFleet([node("a", { disk: "hdd" }), node("b", { disk: "ssd" }, 350), node("c", { disk: "hdd" })]);
    fleet.turn([apply("db", { affinity: [{ label: "disk", value: "ssd", weight: 0 }] }, { replicas: 5 })]);
    expect(perNode(fleet, "db")).toEqual({ a: 1, b: 3, c: 1 });
    const small = { resources: { cpuMillis: 50, memoryMb: 64 } };
    fleet.turn([apply("batchy", { affinity: [{ label: "disk", value: "hdd", weight: -100 }] }, { replicas: 1, ...small })]);
    expect(perNode(fleet, "batchy")).toEqual({ b: 1 });
  });

  test("affinity ranks above the cluster's spread, which still ranks among equals", () => {
    const fleet = connectedFleet([node("a", { disk: "ssd" }), node("b", { disk: "ssd" }), node("c")]);
    fleet.turn([apply("db", { affinity: [{ label: "disk", value: "ssd", weight: 10 }] }, { replicas: 4 })]);
    expect(perNode(fleet, "db")).toEqual({ a: 2, b: 2 });
  });
});

describe("changing the rules", () => {
  test("replaces no copy: the rules shape where new copies go", () => {
    const fleet = connectedFleet([node("a"), node("b")]);
    fleet.turn([apply("db", {}, { replicas: 4 })]);
    fleet.settle();
    const r = fleet.turn([apply("db", { maxPerNode: 1 }, { replicas: 4 })]);
    expect(r.plan!.stop).toEqual([]);
    expect(fleet.state.workloads.get("db")!.templateGeneration).toBe(1);
    expect(perNode(fleet, "db")).toEqual({ a: 2, b: 2 });
  });
});

describe("system workloads", () => {
  test("a system workload's copies go to every node that qualifies, under a cap of 1", () => {
    const fleet = connectedFleet([node("a"), node("b")]);
    fleet.turn([apply("logs", { maxPerNode: 1 }, { kind: WorkloadKind.WORKLOAD_KIND_SYSTEM })]);
    fleet.settle();
    expect(perNode(fleet, "logs")).toEqual({ a: 1, b: 1 });
  });
});

describe("validation", () => {
  const problems = (s: WorkloadSpec) => validateWorkload({ name: "w", labels: {}, spec: s }).map(describeRejection);
  const soft = { weight: 0, targets: [], whenUnsatisfiable: 0 };
  test.each([
    [{ maxPerNode: 20_000 }, "workload.spec.placement.max_per_node: expected at most 10000, got 20000"],
    [{ spread: [{ ...soft, label: "" }] }, 'workload.spec.placement.spread[0].label: expected a node label key (letters, digits, \'-\', \'_\', \'.\', \'/\'; at most 253 characters), got ""'],
    [{ spread: [{ ...soft, label: "zone" }, { ...soft, label: "zone" }] }, 'workload.spec.placement.spread[1].label: expected a label no other spread names, got "zone" twice'],
    [{ spread: [{ ...soft, label: "zone", weight: 101 }] }, "workload.spec.placement.spread[0].weight: expected from 1 to 100 (0: the default 50), got 101"],
    [{ spread: [{ ...soft, label: "zone", whenUnsatisfiable: 9 }] }, "workload.spec.placement.spread[0].when_unsatisfiable: expected schedule or wait, got 9"],
    [{ spread: [{ ...soft, label: "zone", targets: [{ value: "a", percent: 70 }, { value: "b", percent: 40 }] }] }, "workload.spec.placement.spread[0].targets: expected percents adding up to at most 100, got 110"],
    [{ spread: [{ ...soft, label: "zone", targets: [{ value: "a", percent: 10 }, { value: "a", percent: 10 }] }] }, 'workload.spec.placement.spread[0].targets[1].value: expected a value no other target names, got "a" twice'],
    [{ spread: [{ ...soft, label: "zone", targets: [{ value: "", percent: 10 }] }] }, "workload.spec.placement.spread[0].targets[0].value: expected a label value of 1 to 63 characters"],
    [{ affinity: [{ label: "disk", value: "ssd", weight: -101 }] }, "workload.spec.placement.affinity[0].weight: expected from -100 to 100 (0: the default 50), got -101"],
    [{ affinity: [{ label: "disk", value: "x".repeat(64), weight: 1 }] }, "workload.spec.placement.affinity[0].value: expected a label value of at most 63 characters"],
  ] as Array<[Partial<Placement>, string]>)("%#: %s", (p, message) => {
    expect(problems(spec({ placement: placement(p) }))).toEqual([message]);
  });

  test("a system workload takes max_per_node but not spread or affinity", () => {
    const system = (p: Partial<Placement>) => spec({ kind: WorkloadKind.WORKLOAD_KIND_SYSTEM, placement: placement(p) });
    expect(problems(system({ maxPerNode: 1 }))).toEqual([]);
    expect(problems(system({ affinity: [{ label: "disk", value: "ssd", weight: 1 }] }))).toEqual([
      "workload.spec.placement.affinity: expected none for a system workload: it runs one copy on every node that qualifies (use node_selector)",
    ]);
  });

  test("a valid placement has no problems", () => {
    const p = { maxPerNode: 1, spread: [{ label: "zone", weight: 80, targets: [{ value: "a", percent: 70 }], whenUnsatisfiable: 2 }], affinity: [{ label: "disk", value: "ssd", weight: -20 }] };
    expect(problems(spec({ placement: p }))).toEqual([]);
  });
});
