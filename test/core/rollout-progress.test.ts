/**
 * A rollout's progress deadline through the pure core, on the simulated fleet (#25, #26): a
 * canary that never becomes available within it is a rollout not complete in time (reverted
 * under auto_revert, otherwise stalled, and the stall is an event); time a rollout waits on an
 * operator (an available canary held until promoted, a pause) does not count; going back to a
 * template keeps the copies that still run it; a Pending copy's reason is why it waits now.
 */
import { describe, expect, test } from "bun:test";
import type { Instance } from "../../src/core/model/cluster-state.js";
import { rolloutStatus } from "../../src/core/model/cluster-status.js";
import { rolloutRevisions } from "../../src/core/events/rollout-history.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { resolveSpec } from "../../src/core/model/spec.js";
import type { Check, UpdateStrategy, WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { spec } from "./fixtures.js";

const READY_CHECK: Check = { name: "ready", role: 1, interval: undefined, timeout: undefined, initialDelay: undefined, successThreshold: 0, failureThreshold: 0, probe: { $case: "tcp", value: { port: 8080, portName: "" } } };
const BIG = { cpuMillis: 64_000, memoryMb: 65_536 };
const SIX_SECONDS = { progressDeadline: { seconds: 6, nanos: 0 } };

function fleet(): SimulatedFleet {
  const f = new SimulatedFleet();
  for (const name of ["n1", "n2"]) f.connect({ name, capacity: BIG, labels: {} });
  f.settle();
  return f;
}

const web = (version: string, update: Partial<UpdateStrategy>, over: Partial<WorkloadSpec> = {}) => spec({ args: [version], replicas: 3, checks: [READY_CHECK], update: { waves: [], ...update }, ...over });

function apply(f: SimulatedFleet, s: WorkloadSpec) {
  return f.turn([{ type: "ApplyWorkload", name: "web", labels: {}, spec: s, force: false }]).decisions[0]!;
}

const wanted = (f: SimulatedFleet) => [...f.state.instances.values()].filter((i) => i.workload === "web" && i.desired === "run");
const generations = (f: SimulatedFleet) => wanted(f).map((i) => i.generation).sort();
const rolloutEvents = (f: SimulatedFleet) => f.events.flatMap((e) => (e.type.startsWith("Rollout") ? [e] : []));
const status = (f: SimulatedFleet) => {
  const w = f.state.workloads.get("web")!;
  const s = resolveSpec(w.spec);
  return rolloutStatus(w, s, wanted(f), f.now, s.replicas);
};

describe("a canary held past its progress deadline", () => {
  const held = { canary: 1, autoPromote: false };

  test("never available: reverted under auto_revert, the old copies untouched", () => {
    const f = fleet();
    apply(f, web("v1", { ...held, autoRevert: true }, SIX_SECONDS));
    f.settle();
    f.failingChecks.add("web");
    apply(f, web("v2", { ...held, autoRevert: true }, SIX_SECONDS));
    f.advance(25_000);
    const reverted = rolloutEvents(f).find((e) => e.type === "RolloutReverted");
    expect(reverted?.type === "RolloutReverted" && reverted.reason).toMatch(/^not complete within progress_deadline 6s \(web-0\.\d+ not Ready\)$/);
    expect(generations(f)).toEqual([1, 1, 1]);
  });

  test("never available, nothing reverts it: the stall is one event naming the canary, and the rollout goes on trying", () => {
    const f = fleet();
    apply(f, web("v1", held, SIX_SECONDS));
    f.settle();
    f.failingChecks.add("web");
    apply(f, web("v2", held, SIX_SECONDS));
    f.advance(25_000);
    const stalls = rolloutEvents(f).filter((e) => e.type === "RolloutStalled");
    expect(stalls).toHaveLength(1);
    expect(stalls[0]).toMatchObject({ name: "web", generation: 2 });
    expect(stalls[0]!.type === "RolloutStalled" && stalls[0]!.reason).toMatch(/^not complete within progress_deadline 6s \(web-0\.\d+ not Ready\)$/);
    expect(f.state.workloads.get("web")!.rolloutHold).toBe("stalled");
    expect(rolloutRevisions(f.events).map((r) => r.outcome.replace(/ \(.*/, ""))).toEqual(["complete", "stalled: not complete within progress_deadline 6s"]);
    expect(status(f)).toMatchObject({ phase: "stalled" });
    // Once the canary gets Ready it waits for its promotion, which the deadline does not count.
    f.failingChecks.delete("web");
    const canary = wanted(f).find((i) => i.generation === 2)!;
    f.turn([{ type: "ReportCheck", node: canary.node!, instanceId: canary.id, generation: 2, check: "ready", passing: true }]);
    f.advance(2_000);
    expect(status(f)).toEqual({ phase: "waiting", on: "promotion" });
    expect(rolloutEvents(f).at(-1)).toMatchObject({ type: "RolloutHeld", gate: "canary" });
  });

  test("under auto_revert with no completed rollout to go back to, the stall says so", () => {
    const f = fleet();
    f.failingChecks.add("web");
    apply(f, web("v1", { autoRevert: true }, SIX_SECONDS));
    f.advance(10_000);
    const stall = rolloutEvents(f).find((e) => e.type === "RolloutStalled");
    expect(stall?.type === "RolloutStalled" && stall.reason).toMatch(/; auto_revert has nothing to go back to: no rollout of this workload completed$/);
  });

  test("available and waiting for its promotion: neither stalled nor reverted, however long it waits", () => {
    const f = fleet();
    apply(f, web("v1", { ...held, autoRevert: true }, SIX_SECONDS));
    f.settle();
    apply(f, web("v2", { ...held, autoRevert: true }, SIX_SECONDS));
    f.advance(30_000);
    expect(status(f)).toEqual({ phase: "waiting", on: "promotion" });
    expect(rolloutEvents(f).filter((e) => e.type === "RolloutReverted" || e.type === "RolloutStalled")).toEqual([]);
    expect(generations(f)).toEqual([1, 1, 1, 2]);
  });

  test("promoted after the deadline: the deadline counts from the promotion, and the rest roll", () => {
    const f = fleet();
    apply(f, web("v1", { ...held, autoRevert: true, maxSurge: 1, maxUnavailable: 0 }, SIX_SECONDS));
    f.settle();
    apply(f, web("v2", { ...held, autoRevert: true, maxSurge: 1, maxUnavailable: 0 }, SIX_SECONDS));
    f.advance(61_000);
    const promoted = f.turn([{ type: "PromoteRollout", name: "web", by: "someone" }]);
    expect(promoted.decisions[0]!.rejection).toBeUndefined();
    expect(status(f).phase).not.toBe("stalled");
    f.advance(5_000);
    expect(generations(f)).toEqual([2, 2, 2]);
    expect(rolloutEvents(f).map((e) => e.type)).toEqual(["RolloutCompleted", "RolloutHeld", "RolloutPromoted", "RolloutHeld", "RolloutCompleted"]);
  });

  test("a paused rollout is not stalled, and its deadline counts again from the resume", () => {
    const f = fleet();
    apply(f, web("v1", { maxSurge: 1, maxUnavailable: 0, autoRevert: true }, SIX_SECONDS));
    f.settle();
    f.turn([{ type: "PauseRollout", name: "web", paused: true, by: "someone" }]);
    apply(f, web("v2", { maxSurge: 1, maxUnavailable: 0, autoRevert: true }, SIX_SECONDS));
    f.advance(20_000);
    expect(status(f)).toEqual({ phase: "waiting", on: "paused" });
    f.turn([{ type: "PauseRollout", name: "web", paused: false, by: "someone" }]);
    f.advance(5_000);
    expect(rolloutEvents(f).filter((e) => e.type === "RolloutReverted" || e.type === "RolloutStalled")).toEqual([]);
    expect(generations(f)).toEqual([2, 2, 2]);
  });
});

describe("going back to a template keeps the copies that run it", () => {
  /** Four nodes in two zones, one copy each. */
  function zoned(): SimulatedFleet {
    const f = new SimulatedFleet();
    for (const zone of ["a", "b"]) for (const k of [1, 2]) f.connect({ name: `${zone}${k}`, capacity: { cpuMillis: 250, memoryMb: 1024 }, labels: { zone } });
    f.settle();
    return f;
  }
  const waves = [{ nodeSelector: { zone: "a" } }, { nodeSelector: { zone: "b" } }];
  const update = { maxSurge: 0, maxUnavailable: 1, waves, minHealthyTime: { seconds: 5, nanos: 0 } };
  const zoneOf = (f: SimulatedFleet, i: Instance) => f.state.nodes.get(i.node!)!.labels.zone;

  test("rollout undo during wave 1 replaces only wave 1's new copies; zone b's generation-2 copies stay", () => {
    const f = zoned();
    apply(f, web("v1", update, { replicas: 4 }));
    f.settle();
    f.advance(6_000);
    apply(f, web("v2", update, { replicas: 4 }));
    f.advance(60_000);
    expect(f.state.workloads.get("web")!.stable?.generation).toBe(2);
    f.failingChecks.add("web");
    apply(f, web("v3", update, { replicas: 4 }));
    f.advance(3_000);
    const zoneB = wanted(f).filter((i) => zoneOf(f, i) === "b");
    expect(zoneB.map((i) => i.generation)).toEqual([2, 2]);
    const stops: string[] = [];
    f.onTurn = (r) => {
      for (const e of r.events) if (e.type === "InstanceTransitioned" && e.event.type === "stop") stops.push(e.id);
    };
    f.failingChecks.delete("web");
    expect(f.turn([{ type: "RollbackWorkload", name: "web" }]).decisions[0]!.rejection).toBeUndefined();
    f.advance(30_000);
    f.settle();
    for (const b of zoneB) expect(stops).not.toContain(b.id);
    expect(wanted(f).filter((i) => zoneOf(f, i) === "b").map((i) => i.id)).toEqual(zoneB.map((i) => i.id));
    // Every copy runs v2 again: zone b's untouched, zone a's replaced.
    const w = f.state.workloads.get("web")!;
    expect(w.spec.args).toEqual(["v2"]);
    expect(wanted(f).every((i) => i.generation === 2 || i.generation === w.generation)).toBe(true);
    expect(wanted(f)).toHaveLength(4);
    expect(rolloutRevisions(f.events).map((r) => [r.revision, r.outcome.replace(/:.*/, "")])).toEqual([[1, "complete"], [2, "complete"], [3, "superseded"], [4, "in progress"]]);
  });
});

describe("a Pending copy's reason", () => {
  test("is why it waits now: recorded again when it changes, not kept from a state that no longer holds", () => {
    const f = new SimulatedFleet();
    f.connect({ name: "n1", capacity: { cpuMillis: 1_000, memoryMb: 1_024 }, labels: {} });
    f.settle();
    f.turn([{ type: "CordonNode", node: "n1" }]);
    f.turn([{ type: "ApplyWorkload", name: "web", labels: {}, spec: spec({ resources: { cpuMillis: 600, memoryMb: 64 } }), force: false }]);
    const pending = () => wanted(f).find((i) => i.state === "pending");
    expect(pending()?.reason).toBe("no node fits (1 cordoned)");
    // The node takes new work again, but another workload fills it first.
    f.turn([
      { type: "ApplyWorkload", name: "aaa", labels: {}, spec: spec({ resources: { cpuMillis: 600, memoryMb: 64 } }), force: false },
      { type: "UncordonNode", node: "n1" },
    ]);
    f.settle();
    expect(pending()?.reason).toBe("no node fits (1 short of cpu)");
    expect(f.events.some((e) => e.type === "InstanceWaiting" && e.reason === "no node fits (1 short of cpu)")).toBe(true);
  });
});

test("a rollout that stalls again after a resume records the new stall too", () => {
  const f = new SimulatedFleet();
  f.connect({ name: "n1", capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, labels: {} });
  f.settle();
  const update = { maxSurge: 0, maxUnavailable: 1 };
  apply(f, web("v1", update, { ...SIX_SECONDS, replicas: 1 }));
  f.settle();
  f.failingChecks.add("web");
  apply(f, web("v2", update, { ...SIX_SECONDS, replicas: 1 }));
  // One copy, current and not Ready: a steady slot, past which no gate is recorded.
  f.advance(10_000);
  f.turn([{ type: "PauseRollout", name: "web", paused: true, by: "someone" }]);
  f.turn([{ type: "PauseRollout", name: "web", paused: false, by: "someone" }]);
  f.advance(10_000);
  expect(rolloutEvents(f).filter((e) => e.type === "RolloutStalled")).toHaveLength(2);
});
