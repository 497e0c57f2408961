/**
 * Progressive delivery through the pure core, on the simulated fleet: canaries held until
 * promoted (by hand or auto_promote), min_healthy_time soaking new copies before old ones go,
 * auto_revert going back to the last completed spec and quarantining the failed one.
 */
import { describe, expect, test } from "bun:test";
import type { Instance } from "../../src/core/model/cluster-state.js";
import { decide } from "../../src/core/decide/decide.js";
import { describeRejection } from "../../src/core/model/rejections.js";
import { rolloutRevisions } from "../../src/core/events/rollout-history.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { waveOf } from "../../src/core/reconcile/waves.js";
import type { Check, UpdateStrategy, WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { spec } from "./fixtures.js";

const READY_CHECK: Check = { name: "ready", role: 1, interval: undefined, timeout: undefined, initialDelay: undefined, successThreshold: 0, failureThreshold: 0, probe: { $case: "tcp", value: { port: 8080, portName: "" } } };
const BIG = { cpuMillis: 64_000, memoryMb: 65_536 };

function fleet(): SimulatedFleet {
  const f = new SimulatedFleet();
  for (const name of ["n1", "n2"]) f.connect({ name, capacity: BIG, labels: {} });
  f.settle();
  return f;
}

const web = (version: string, update: Partial<UpdateStrategy>, over: Partial<WorkloadSpec> = {}) => spec({ args: [version], replicas: 4, checks: [READY_CHECK], update: { waves: [], ...update }, ...over });

function apply(f: SimulatedFleet, s: WorkloadSpec, force = false) {
  return f.turn([{ type: "ApplyWorkload", name: "web", labels: {}, spec: s, force }]).decisions[0]!;
}

const copies = (f: SimulatedFleet, keep: (i: Instance) => boolean) => [...f.state.instances.values()].filter((i) => i.workload === "web" && i.desired === "run" && keep(i));
const running = (f: SimulatedFleet, version: string) => copies(f, (i) => i.state === "running" && f.state.workloads.get("web")!.spec.args[0] !== undefined && argsOf(f, i) === version).length;
/** The version a copy runs: its generation's spec, as the log recorded it. */
function argsOf(f: SimulatedFleet, i: Instance): string {
  const applied = f.events.filter((e) => e.type === "WorkloadApplied" && e.workload.name === "web" && e.workload.generation <= i.generation);
  const last = applied.at(-1);
  return last?.type === "WorkloadApplied" ? last.workload.spec.args[0]! : "?";
}
const rollout = (f: SimulatedFleet) => f.plans.at(-1)?.skip.filter((s) => s.workload === "web").map((s) => s.gate) ?? [];

describe("canaries", () => {
  test("a changed spec starts `canary` new copies beside the old ones and stops none until promoted", () => {
    const f = fleet();
    apply(f, web("v1", { canary: 1 }));
    f.settle();
    expect(running(f, "v1")).toBe(4);
    apply(f, web("v2", { canary: 1 }));
    f.settle();
    f.advance(5_000);
    expect([running(f, "v1"), running(f, "v2")]).toEqual([4, 1]);
    expect(rollout(f)).toContain("canary");
    const promoted = f.turn([{ type: "PromoteRollout", name: "web", by: "someone" }]);
    expect(promoted.decisions[0]!.rejection).toBeUndefined();
    f.settle();
    expect([running(f, "v1"), running(f, "v2")]).toEqual([0, 4]);
    // Nothing waits any more.
    const again = decide(f.state, { type: "PromoteRollout", name: "web", by: "someone" }, f.now);
    expect(describeRejection(again.rejection!)).toBe('workload "web" has nothing to promote: its rollout was promoted already');
  });

  test("auto_promote promotes once every canary has been available for min_healthy_time", () => {
    const f = fleet();
    const update = { canary: 2, autoPromote: true, minHealthyTime: { seconds: 10, nanos: 0 } };
    apply(f, web("v1", update));
    f.settle();
    apply(f, web("v2", update));
    f.settle();
    f.advance(5_000);
    expect([running(f, "v1"), running(f, "v2")]).toEqual([4, 2]);
    f.advance(6_000);
    f.settle();
    expect(f.events.some((e) => e.type === "RolloutPromoted" && e.by === "auto_promote")).toBe(true);
    f.advance(40_000);
    expect([running(f, "v1"), running(f, "v2")]).toEqual([0, 4]);
  });

  test("each change of the gate that holds a rollout is an event, not each pass", () => {
    const f = fleet();
    apply(f, web("v1", { canary: 1 }));
    f.settle();
    apply(f, web("v2", { canary: 1 }));
    f.settle();
    f.advance(10_000);
    f.turn([{ type: "PromoteRollout", name: "web", by: "someone" }]);
    f.advance(10_000);
    const held = f.events.flatMap((e) => (e.type === "RolloutHeld" ? [e.gate] : []));
    expect(held).toEqual(["canary", ""]);
  });

  test("a workload without a canary has nothing to promote", () => {
    const f = fleet();
    apply(f, web("v1", {}));
    const d = decide(f.state, { type: "PromoteRollout", name: "web", by: "someone" }, f.now);
    expect(describeRejection(d.rejection!)).toBe('workload "web" has nothing to promote: its update strategy has no canary');
  });
});

describe("min_healthy_time", () => {
  test("an old copy goes only once its replacement has been Ready that long", () => {
    const f = fleet();
    const update = { maxSurge: 1, maxUnavailable: 0, minHealthyTime: { seconds: 10, nanos: 0 } };
    apply(f, web("v1", update, { replicas: 1 }));
    f.settle();
    apply(f, web("v2", update, { replicas: 1 }));
    f.settle();
    expect([running(f, "v1"), running(f, "v2")]).toEqual([1, 1]);
    f.advance(9_000);
    expect(running(f, "v1")).toBe(1);
    f.advance(2_000);
    f.settle();
    expect([running(f, "v1"), running(f, "v2")]).toEqual([0, 1]);
  });
});

describe("auto_revert", () => {
  const update = { maxSurge: 1, maxUnavailable: 0, autoRevert: true };
  const deadline = { progressDeadline: { seconds: 30, nanos: 0 } };

  test("a rollout not complete within its deadline goes back to the last completed spec; the failed spec is refused unless forced", () => {
    const f = fleet();
    apply(f, web("v1", update, deadline));
    f.settle();
    expect(f.state.workloads.get("web")!.stable?.generation).toBe(1);
    f.failingChecks.add("web");
    apply(f, web("v2", update, deadline));
    f.settle();
    f.advance(35_000);
    f.settle();
    const w = f.state.workloads.get("web")!;
    expect(w.spec.args).toEqual(["v1"]);
    expect(w.generation).toBe(3);
    expect(w.quarantined.map((q) => q.generation)).toEqual([2]);
    expect(copies(f, (i) => i.generation === 2)).toEqual([]);
    expect(running(f, "v1")).toBe(4);
    // The v1 copies kept running throughout: none was replaced.
    expect(copies(f, (i) => i.generation !== 1)).toEqual([]);

    const refused = apply(f, web("v2", update, deadline));
    expect(describeRejection(refused.rejection!)).toStartWith('workload "web": this spec\'s rollout (generation 2) failed and was reverted: not complete within progress_deadline 30s');
    const forced = apply(f, web("v2", update, deadline), true);
    expect(forced.rejection).toBeUndefined();
    expect(f.state.workloads.get("web")!.quarantined).toEqual([]);
  });

  test("a new copy that crash-loops fails the rollout before its deadline", () => {
    const f = fleet();
    const slow = { progressDeadline: { seconds: 600, nanos: 0 } };
    // A soak keeps the rollout open while its new copies start and crash.
    const soaking = { ...update, minHealthyTime: { seconds: 30, nanos: 0 } };
    apply(f, web("v1", soaking, slow));
    f.settle();
    f.advance(31_000);
    apply(f, web("v2", soaking, slow));
    f.settle();
    for (let k = 0; k < 60 && !f.events.some((e) => e.type === "RolloutReverted"); k++) {
      for (const i of copies(f, (c) => c.generation === 2 && c.state === "running")) f.crash(i.id, 2);
      f.advance(1_000);
    }
    const reverted = f.events.find((e) => e.type === "RolloutReverted");
    expect(reverted?.type === "RolloutReverted" && reverted.reason).toMatch(/^new copies crash-looping on n[12]/);
    expect(reverted!.at - f.events.find((e) => e.type === "WorkloadApplied" && e.workload.generation === 2)!.at).toBeLessThan(60_000);
    expect(f.state.workloads.get("web")!.spec.args).toEqual(["v1"]);
  });

  test("without a completed rollout there is nothing to go back to: the rollout stalls", () => {
    const f = fleet();
    f.failingChecks.add("web");
    apply(f, web("v1", update, deadline));
    f.advance(35_000);
    f.settle();
    expect(f.events.some((e) => e.type === "RolloutReverted")).toBe(false);
  });
});

describe("waves", () => {
  /** Six nodes in three zones, two each; web on every one of them. */
  function zoned(): SimulatedFleet {
    const f = new SimulatedFleet();
    for (const zone of ["a", "b", "c"]) for (const k of [1, 2]) f.connect({ name: `${zone}${k}`, capacity: { cpuMillis: 150, memoryMb: 1024 }, labels: { zone } });
    f.settle();
    return f;
  }
  const waves = [{ nodeSelector: { zone: "a" } }, { nodeSelector: { zone: "b" } }];
  const zoneOf = (f: SimulatedFleet, i: Instance) => f.state.nodes.get(i.node!)!.labels.zone;

  test("a copy belongs to the first wave its node matches; copies matching none go last", () => {
    const node = (labels: Record<string, string>) => ({ labels }) as Parameters<typeof waveOf>[1];
    const selectors: Array<Record<string, string>> = [{ zone: "a" }, { zone: "b", disk: "ssd" }];
    expect(waveOf(selectors, node({ zone: "a", disk: "ssd" }))).toBe(0);
    expect(waveOf(selectors, node({ zone: "b", disk: "ssd" }))).toBe(1);
    expect(waveOf(selectors, node({ zone: "b" }))).toBe(2);
    expect(waveOf(selectors, undefined)).toBe(2);
  });

  test("old copies are replaced wave by wave: zone a, then b, then the rest, each once the new copies are available", () => {
    const f = zoned();
    // One copy fits a node (cpu 150 of 150 with 100 each... 1 copy a node): a replacement waits for the old to go.
    const update = { maxSurge: 0, maxUnavailable: 2, waves, minHealthyTime: { seconds: 5, nanos: 0 } };
    apply(f, web("v1", update, { replicas: 6 }));
    f.settle();
    f.advance(6_000);
    expect(running(f, "v1")).toBe(6);
    const stops: string[] = [];
    f.onTurn = (r) => {
      for (const e of r.events) if (e.type === "InstanceTransitioned" && e.event.type === "stop") stops.push(zoneOf(f, f.state.instances.get(e.id)!) ?? "?");
    };
    apply(f, web("v2", update, { replicas: 6 }));
    f.advance(60_000);
    f.settle();
    expect(running(f, "v2")).toBe(6);
    // Every zone-a copy went before any zone-b copy, and every zone-b one before zone c.
    expect(stops).toEqual(["a", "a", "b", "b", "c", "c"]);
    expect(f.events.filter((e) => e.type === "RolloutWaveStarted").map((e) => (e.type === "RolloutWaveStarted" ? `${e.wave + 1}/${e.waves}` : ""))).toEqual(["1/3", "2/3", "3/3"]);
  });

  test("a wave whose new copies never become Ready halts the rollout there", () => {
    const f = zoned();
    const update = { maxSurge: 0, maxUnavailable: 2, waves };
    apply(f, web("v1", update, { replicas: 6 }));
    f.settle();
    f.failingChecks.add("web");
    apply(f, web("v2", update, { replicas: 6 }));
    f.advance(60_000);
    f.settle();
    const old = copies(f, (i) => i.generation === 1);
    expect(old.map((i) => zoneOf(f, i)).sort()).toEqual(["b", "b", "c", "c"]);
    expect(f.plans.at(-1)!.skip.some((s) => s.gate === "wave" && s.reason.startsWith("wave 2 of 3 held"))).toBe(true);
  });
});

describe("pause", () => {
  test("a paused rollout replaces no old copy until resumed", () => {
    const f = fleet();
    const update = { maxSurge: 1, maxUnavailable: 0 };
    apply(f, web("v1", update));
    f.settle();
    f.turn([{ type: "PauseRollout", name: "web", paused: true, by: "someone" }]);
    apply(f, web("v2", update));
    f.advance(30_000);
    f.settle();
    expect([running(f, "v1"), running(f, "v2")]).toEqual([4, 0]);
    expect(rollout(f)).toContain("paused");
    f.turn([{ type: "PauseRollout", name: "web", paused: false, by: "someone" }]);
    f.advance(30_000);
    f.settle();
    expect([running(f, "v1"), running(f, "v2")]).toEqual([0, 4]);
  });
});

describe("rollout history", () => {
  test("each change of what runs is a revision with how its rollout ended", () => {
    const f = fleet();
    const update = { maxSurge: 1, maxUnavailable: 0, autoRevert: true };
    const deadline = { progressDeadline: { seconds: 20, nanos: 0 } };
    apply(f, web("v1", update, deadline));
    f.settle();
    apply(f, web("v1", update, { ...deadline, replicas: 5 }));
    f.settle();
    apply(f, web("v2", update, { ...deadline, replicas: 5 }));
    f.settle();
    f.failingChecks.add("web");
    apply(f, web("v3", update, { ...deadline, replicas: 5 }));
    f.advance(30_000);
    f.settle();
    const revisions = rolloutRevisions(f.events.filter((e) => e.type !== "NodeHeartbeatReceived"));
    expect(revisions.map((r) => [r.revision, r.cause, r.outcome.replace(/:.*/, "")])).toEqual([
      [1, "applied", "complete"],
      [3, "applied", "complete"],
      [4, "applied", "reverted"],
      [5, "revert to generation 3", "in progress"],
    ]);
  });
});
