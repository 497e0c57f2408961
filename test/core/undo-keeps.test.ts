/**
 * Going back keeps what already runs the target (issue 26, invariant 30): `rollout undo` (to the
 * spec before, or to any revision) and auto_revert stop no copy whose template equals the
 * target's, whatever went before: applies in a row, an undo or a revert still under way. Through
 * the pure core on the simulated fleet, waves a then b.
 */
import { describe, expect, test } from "bun:test";
import type { Instance } from "../../src/core/model/cluster-state.js";
import type { Effect } from "../../src/core/model/effects.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import type { Check, WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { spec } from "./fixtures.js";

const BIG = { cpuMillis: 64_000, memoryMb: 65_536 };
const READY_CHECK: Check = { name: "ready", role: 1, interval: undefined, timeout: undefined, initialDelay: undefined, successThreshold: 0, failureThreshold: 0, probe: { $case: "tcp", value: { port: 8080, portName: "" } } };
const waves = [{ nodeSelector: { zone: "a" } }, { nodeSelector: { zone: "b" } }];
const update = { maxSurge: 1, maxUnavailable: 0, waves };
const web = (version: string) => spec({ args: [version], replicas: 3, update });

const apply = (f: SimulatedFleet, s: WorkloadSpec) => f.turn([{ type: "ApplyWorkload", name: "web", labels: {}, spec: s }]).decisions[0]!;
const undo = (f: SimulatedFleet, to?: { revision: number; spec: WorkloadSpec }) => f.turn([{ type: "RollbackWorkload", name: "web", ...(to ? { to } : {}) }]).decisions[0]!;
const wanted = (f: SimulatedFleet): Instance[] => [...f.state.instances.values()].filter((i) => i.workload === "web" && i.desired === "run");
/** What each copy was started with (its StartInstance): the version it runs. */
const started = new Map<string, string>();
const versions = (f: SimulatedFleet) => wanted(f).map((i) => started.get(i.id));

/** Nodes a1 (zone a), b1, b2 (zone b); every start recorded in `started`. */
function fleet(): SimulatedFleet {
  const f = new SimulatedFleet();
  for (const [name, zone] of [["a1", "a"], ["b1", "b"], ["b2", "b"]] as const) f.connect({ name, capacity: BIG, labels: { zone } });
  f.onTurn = (r) => record(r.effects);
  f.settle();
  return f;
}
function record(effects: Effect[]): void {
  for (const e of effects) if (e.type === "StartInstance") started.set(e.instanceId, e.spec.args[0]!);
}

/** Lets the rollout under way finish: its copies soak, wave after wave. */
function finish(f: SimulatedFleet): void {
  for (let i = 0; i < 6; i++) {
    f.advance(10_000);
    f.settle();
  }
}

/** Runs `step` and finishes, recording every copy of `keep` stopped meanwhile, with why. */
function stopsOf(f: SimulatedFleet, keep: Set<string>, step: () => void): string[] {
  const stopped: string[] = [];
  f.onTurn = (r) => {
    record(r.effects);
    for (const e of r.events) if (e.type === "InstanceTransitioned" && e.event.type === "stop" && keep.has(e.id)) stopped.push(`${e.id}: ${e.event.reason}`);
  };
  step();
  finish(f);
  f.onTurn = (r) => record(r.effects);
  return stopped;
}

describe("undo keeps the copies already on its target's template", () => {
  test("undo to the spec before, during wave 1: zone b's copies were never touched and stay", () => {
    const f = fleet();
    apply(f, web("v1"));
    finish(f);
    apply(f, web("v2"));
    finish(f);
    apply(f, web("v3"));
    const v2 = new Set(wanted(f).filter((i) => i.generation === 2).map((i) => i.id));
    expect(stopsOf(f, v2, () => undo(f))).toEqual([]);
    expect(versions(f)).toEqual(["v2", "v2", "v2"]);
  });

  test("apply v3, then v4 mid-rollout, then undo to revision 2: v2's copies stay", () => {
    const f = fleet();
    apply(f, web("v1"));
    finish(f);
    apply(f, web("v2"));
    finish(f);
    apply(f, web("v3"));
    f.turn();
    apply(f, web("v4"));
    f.turn();
    const v2 = new Set(wanted(f).filter((i) => i.generation === 2).map((i) => i.id));
    expect(v2.size).toBeGreaterThan(0);
    expect(stopsOf(f, v2, () => undo(f, { revision: 2, spec: web("v2") }))).toEqual([]);
    expect(versions(f)).toEqual(["v2", "v2", "v2"]);
  });

  test("undo to revision 2 while an undo back to revision 1 is under way: the v2 copies still running stay", () => {
    const f = fleet();
    apply(f, web("v1"));
    finish(f);
    apply(f, web("v2"));
    // Part way: some replicas run v2 only, then the undo back to v1 starts replacing them.
    f.advance(12_000);
    f.settle();
    undo(f);
    const v2 = new Set(wanted(f).filter((i) => started.get(i.id) === "v2" && i.state === "running").map((i) => i.id));
    expect(v2.size).toBeGreaterThan(0);
    expect(stopsOf(f, v2, () => undo(f, { revision: 2, spec: web("v2") }))).toEqual([]);
    expect(versions(f)).toEqual(["v2", "v2", "v2"]);
  });

  test("auto_revert after v3, then v4 mid-rollout: back to v2, its copies stay and v3's go too", () => {
    const f = fleet();
    // v4 never passes its readiness check: its rollout is reverted after progress_deadline.
    f.checksPass = (start) => start.spec.args[0] !== "v4";
    const reverting = (v: string) => spec({ args: [v], replicas: 3, checks: [READY_CHECK], progressDeadline: { seconds: 20, nanos: 0 }, update: { ...update, autoRevert: true } });
    apply(f, reverting("v1"));
    finish(f);
    apply(f, reverting("v2"));
    finish(f);
    apply(f, reverting("v3"));
    // Part way: a replica runs v3 only, the others v2 still.
    while (!wanted(f).some((i) => started.get(i.id) === "v3" && i.state === "running") || wanted(f).length > 3) f.turn();
    apply(f, reverting("v4"));
    const v2 = new Set(wanted(f).filter((i) => started.get(i.id) === "v2").map((i) => i.id));
    expect(v2.size).toBeGreaterThan(0);
    expect(wanted(f).some((i) => started.get(i.id) === "v3")).toBe(true);
    expect(stopsOf(f, v2, () => f.advance(25_000))).toEqual([]);
    expect(f.state.workloads.get("web")!.spec.args).toEqual(["v2"]);
    expect(versions(f)).toEqual(["v2", "v2", "v2"]);
  });
});
