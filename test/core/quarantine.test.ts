/**
 * A bad deploy and its fix (#25, findings 3, 8 and 9) through the pure core, on the simulated
 * fleet: the restart backoff holds for every copy of every generation, a crash-loop quarantine
 * belongs to the spec that crash-looped (a changed spec, a revert or a new workload of the name
 * starts without one), a binary that crashes at start never takes a service below its budget,
 * a quarantine says where it holds and until when and can be lifted, and a change of what does
 * not run rolls no copy.
 */
import { describe, expect, test } from "bun:test";
import type { Instance } from "../../src/core/model/cluster-state.js";
import { isReady, rolloutStatus } from "../../src/core/model/cluster-status.js";
import { decide } from "../../src/core/decide/decide.js";
import { quarantinesOf } from "../../src/core/reconcile/gates.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { describeRejection } from "../../src/core/model/rejections.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { resolveSpec } from "../../src/core/model/spec.js";
import type { WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { spec } from "./fixtures.js";

const BIG = { cpuMillis: 64_000, memoryMb: 65_536 };
const SECOND = { initialBackoff: { seconds: 1, nanos: 0 }, maxBackoff: undefined, mode: 0 };

/** `svc`: 2 replicas, initialBackoff 1s, running `version`. */
const svc = (version: string, over: Partial<WorkloadSpec> = {}) => spec({ args: [version], replicas: 2, restartPolicy: SECOND, ...over });

function fleet(...nodes: string[]): SimulatedFleet {
  const f = new SimulatedFleet();
  for (const name of nodes) f.connect({ name, capacity: BIG, labels: {} });
  f.settle();
  return f;
}

function apply(f: SimulatedFleet, s: WorkloadSpec, name = "svc") {
  return f.turn([{ type: "ApplyWorkload", name, labels: {}, spec: s }]).decisions[0]!;
}

const copies = (f: SimulatedFleet, keep: (i: Instance) => boolean = () => true) => [...f.state.instances.values()].filter((i) => i.workload === "svc" && keep(i));
const readyCount = (f: SimulatedFleet) => copies(f, (i) => i.desired === "run" && isReady(i)).length;

/**
 * Time passes in small steps while every running copy of `generation` (a binary that exits 1
 * at once) fails as soon as it runs.
 */
function crashLoop(f: SimulatedFleet, generation: number, ms: number, step = 250): void {
  const end = f.now + ms;
  while (f.now < end) {
    for (const i of copies(f, (c) => c.generation === generation && c.state === "running")) f.crash(i.id);
    f.now += step;
    f.turn(f.heartbeats());
  }
}

/** One node, `svc` v1 running and soaked, then v2 crash-looping there until it is quarantined. */
function quarantinedOnN1(): SimulatedFleet {
  const f = fleet("n1");
  apply(f, svc("v1"));
  f.settle();
  f.advance(11_000);
  apply(f, svc("v2"));
  for (let k = 0; k < 240 && quarantinesOf(f.state, "svc", f.now, DEFAULT_POLICY).length === 0; k++) crashLoop(f, 2, 250);
  expect(quarantinesOf(f.state, "svc", f.now, DEFAULT_POLICY).map((q) => q.node)).toEqual(["n1"]);
  return f;
}

describe("a bad deploy (a binary that exits 1 at once)", () => {
  test("the restart backoff holds for every copy of the new generation, beside the old copies or not", () => {
    const f = fleet("n1", "n2");
    apply(f, svc("v1"));
    f.settle();
    f.advance(11_000);
    apply(f, svc("v2"));
    crashLoop(f, 2, 4_000);
    const failures = f.events.filter((e) => e.type === "InstanceTransitioned" && e.event.type === "fail");
    // Per slot: fails at once, 1 s backoff, fails, 2 s backoff, fails: at most 3 in 4 s (9 before).
    expect(failures.length).toBeLessThanOrEqual(6);
    for (const index of [0, 1]) {
      const attempts = f.events.flatMap((e) => (e.type === "InstanceCreated" && e.generation === 2 && e.index === index ? [e.attempt] : []));
      expect(attempts).toEqual(attempts.map((_, k) => k));
    }
  });

  test("never takes Ready copies below replicas − maxUnavailable, though no readiness check says the new copies are bad", () => {
    const f = fleet("n1", "n2");
    apply(f, svc("v1"));
    f.settle();
    f.advance(11_000);
    const floor = 2 - resolveSpec(svc("v2")).maxUnavailable;
    let lowest = readyCount(f);
    f.onTurn = () => void (lowest = Math.min(lowest, readyCount(f)));
    apply(f, svc("v2"));
    crashLoop(f, 2, 30_000);
    expect(lowest).toBeGreaterThanOrEqual(floor);
    expect(copies(f, (i) => i.generation === 1 && i.state === "running").length).toBeGreaterThanOrEqual(floor);
  });

  test("its fix is placed at once: a quarantine belongs to the spec that crash-looped", () => {
    const f = quarantinedOnN1();
    // The quarantined spec's copies wait, and say why.
    const pending = copies(f, (i) => i.state === "pending" && i.generation === 2);
    if (pending.length > 0) expect(pending[0]!.reason).toContain("crash-loop quarantine");
    apply(f, svc("v3"));
    // The bad binary's copies still exit at once.
    crashLoop(f, 2, 1_000);
    f.settle();
    expect(copies(f, (i) => i.state === "pending")).toEqual([]);
    expect(copies(f, (i) => i.generation === 3 && i.state === "running").map((i) => i.node)).toEqual(["n1", "n1"]);
    expect(quarantinesOf(f.state, "svc", f.now, DEFAULT_POLICY)).toEqual([]);
  });

  test("copies of the older spec failing after the change never quarantine the changed spec", () => {
    const f = fleet("n1");
    apply(f, svc("v1", { replicas: 6 }));
    f.settle();
    f.advance(11_000);
    apply(f, svc("v2", { replicas: 6 }));
    for (const i of copies(f, (c) => c.generation === 1 && c.state === "running")) f.crash(i.id);
    f.turn(f.heartbeats());
    expect(f.events.filter((e) => e.type === "InstanceTransitioned" && e.event.type === "fail").length).toBeGreaterThanOrEqual(DEFAULT_POLICY.crashLoopFailures);
    f.settle();
    expect(quarantinesOf(f.state, "svc", f.now, DEFAULT_POLICY)).toEqual([]);
    expect(copies(f, (i) => i.state === "pending")).toEqual([]);
  });

  test("the plan says where a quarantine holds and until when, and the writer wakes when it ends", () => {
    const f = quarantinedOnN1();
    const last = f.events.findLast((e) => e.type === "InstanceTransitioned" && e.event.type === "fail")!;
    f.turn(f.heartbeats());
    const held = f.plans.at(-1)!.skip.filter((s) => s.gate === "quarantine");
    expect(held).toEqual([{ workload: "svc", node: "n1", gate: "quarantine", reason: "crash loop: 5 failures within 60s: no copy is placed on n1", until: last.at + DEFAULT_POLICY.quarantineMs }]);
  });
});

describe("lifting a quarantine (rollout unquarantine)", () => {
  test("is refused for an unknown workload or node, or where nothing is recorded", () => {
    const f = quarantinedOnN1();
    const lift = (name: string, node?: string) => decide(f.state, { type: "LiftQuarantine", name, node, by: "ops" }, f.now).rejection;
    expect(lift("nope")).toEqual({ kind: "UnknownWorkload", name: "nope" });
    expect(lift("svc", "n9")).toEqual({ kind: "UnknownNode", name: "n9" });
    f.connect({ name: "n2", capacity: BIG, labels: {} });
    f.turn();
    expect(describeRejection(lift("svc", "n2")!)).toBe('workload "svc" has no crash-loop quarantine to lift on n2: no failure of its current spec is recorded there');
  });

  test("forgets the spec's failures on the node, as an event, and copies go there again", () => {
    const f = quarantinedOnN1();
    const d = f.turn([{ type: "LiftQuarantine", name: "svc", node: "n1", by: "ops" }]).decisions[0]!;
    expect(d.events).toEqual([{ type: "QuarantineLifted", at: f.now, name: "svc", node: "n1", by: "ops" }]);
    expect(quarantinesOf(f.state, "svc", f.now, DEFAULT_POLICY)).toEqual([]);
    expect(copies(f, (i) => i.generation === 2 && i.state === "pending")).toEqual([]);
  });
});

describe("a workload deleted and created again (#25, finding 8)", () => {
  test("starts without the quarantine of the one deleted", () => {
    const f = quarantinedOnN1();
    f.turn([{ type: "DeleteWorkload", name: "svc" }]);
    f.settle();
    expect(f.state.workloads.has("svc")).toBe(false);
    apply(f, svc("v1"));
    f.settle();
    expect(quarantinesOf(f.state, "svc", f.now, DEFAULT_POLICY)).toEqual([]);
    expect(copies(f, (i) => i.state === "running").map((i) => i.node)).toEqual(["n1", "n1"]);
  });
});

describe("never two Pending rows for one slot", () => {
  test("a changed spec replaces a copy of the older one still Pending", () => {
    const f = fleet("n1");
    apply(f, svc("v1", { replicas: 1 }));
    f.settle();
    f.advance(11_000);
    const huge = (v: string) => svc(v, { replicas: 1, resources: { cpuMillis: 100_000, memoryMb: 64 } });
    apply(f, huge("v2"));
    f.settle();
    apply(f, huge("v3"));
    f.settle();
    const pending = copies(f, (i) => i.state === "pending");
    expect(pending.map((i) => [i.name, i.generation])).toEqual([["svc-0", 3]]);
    expect(copies(f, (i) => i.state === "running" && i.generation === 1)).toHaveLength(1);
  });
});

describe("a change of what does not run (#25, finding 9)", () => {
  test.each<[string, Partial<WorkloadSpec>]>([
    ["progressDeadline", { progressDeadline: { seconds: 120, nanos: 0 } }],
    ["stopGracePeriod", { stopGracePeriod: { seconds: 30, nanos: 0 } }],
    ["restartPolicy", { restartPolicy: { initialBackoff: { seconds: 5, nanos: 0 }, maxBackoff: undefined, mode: 0 } }],
  ])("%s: a new generation, no copy replaced, the rollout complete at once", (_, over) => {
    const f = fleet("n1");
    apply(f, svc("v1"));
    f.settle();
    f.advance(11_000);
    const before = copies(f).map((i) => i.id);
    const changed = svc("v1", over);
    expect(apply(f, changed).applied).toBe("configured");
    f.settle();
    const w = f.state.workloads.get("svc")!;
    expect([w.generation, w.templateGeneration]).toEqual([2, 1]);
    expect(copies(f).map((i) => i.id)).toEqual(before);
    expect(rolloutStatus(w, resolveSpec(w.spec), copies(f), f.now, 2).phase).toBe("complete");
    // auto_revert would come back to the spec as changed.
    expect(w.stable?.spec).toEqual(changed);
  });
});
