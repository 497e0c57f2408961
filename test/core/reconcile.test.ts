/**
 * The reconciler as data: small cluster states built from events, the plan they lead to, the
 * events and effects a plan turns into, and that planning again after executing changes nothing.
 */
import { describe, expect, test } from "bun:test";
import type { Command } from "../../src/core/decide/commands.js";
import { decide } from "../../src/core/decide/decide.js";
import type { ClusterState } from "../../src/core/model/cluster-state.js";
import { replay } from "../../src/core/events/evolve.js";
import { planToEvents } from "../../src/core/reconcile/plan-to-events.js";
import { DEFAULT_POLICY, emptyPlan, isEmptyPlan, nextWakeup, type Plan, plan, summarize } from "../../src/core/reconcile/reconcile.js";
import { agentReports, apply, CAPACITY, DEFAULT_RESOURCES as RES, heartbeat, nodeConnected, reconcileOnce, report, spec, T0, transitioned, workloadApplied } from "./fixtures.js";

const SPEC = spec();

/** Reports from the agent go through decide(), as the writer does. */
/** One node n1 and workload `web` (1 replica) whose instance web-0.1 runs on n1. */
function oneRunning(): ClusterState {
  return replay([
    nodeConnected("n1", T0),
    workloadApplied("web", T0),
    { type: "InstanceCreated", at: T0, id: "web-0.1", workload: "web", index: 0, generation: 1, attempt: 0, resources: RES, readinessChecks: [], reason: "" },
    transitioned("web-0.1", T0, { type: "place", node: "n1" }),
    transitioned("web-0.1", T0, { type: "provision" }),
    transitioned("web-0.1", T0, { type: "run" }),
  ]);
}

/** When copies started at T0 without readiness checks have run for min_healthy_time (10 s by default). */
const SOAKED = T0 + 10_000;

/** Past the soak of copies started at T0 (the node still heard): their rollout is recorded complete. */
function completeAfterSoak(state: ClusterState): void {
  apply(state, [heartbeat("n1", SOAKED)]);
  expect(reconcileOnce(state, SOAKED).plan.complete).toEqual([{ name: "web", generation: state.workloads.get("web")!.templateGeneration }]);
}

describe("a new workload on one Ready node", () => {
  const state = replay([nodeConnected("n1", T0), workloadApplied("web", T0)]);

  test("plan places one instance there, and nothing else", () => {
    expect(plan(state, T0)).toEqual({
      ...emptyPlan(T0),
      place: [{ workload: "web", index: 0, generation: 1, attempt: 0, resources: RES, readinessChecks: [], cause: "new", node: "n1" }],
    });
  });

  test("planToEvents creates the instance and asks the node to start it", () => {
    expect(planToEvents(state, plan(state, T0))).toEqual({
      events: [
        { type: "InstanceCreated", at: T0, id: "web-0.1", workload: "web", index: 0, generation: 1, attempt: 0, resources: RES, readinessChecks: [], reason: "" },
        { type: "InstanceTransitioned", at: T0, id: "web-0.1", event: { type: "place", node: "n1" } },
      ],
      effects: [{ type: "StartInstance", node: "n1", instanceId: "web-0.1", name: "web-0", workload: "web", generation: 1, spec: SPEC, ports: [], hostIp: "" }],
    });
  });

  test("plan and planToEvents do not change the state", () => {
    const before = structuredClone(state);
    planToEvents(state, plan(state, T0));
    expect(state).toEqual(before);
  });

  test("after executing the plan, planning again makes no changes", () => {
    const s = structuredClone(state);
    reconcileOnce(s, T0);
    const again = plan(s, T0);
    expect(isEmptyPlan(again)).toBe(true);
    expect(again).toEqual(emptyPlan(T0));
    expect(summarize(again)).toBe("converged");
    // Also once the agent has reported it running, a little later.
    agentReports(s, T0 + 500, report("n1", "web-0.1", "provisioning"), report("n1", "web-0.1", "running"));
    // Every replica runs its template, and has for min_healthy_time (10 s for a copy without
    // readiness checks): the rollout is recorded complete, once.
    const soaked = T0 + 10_500;
    apply(s, [heartbeat("n1", soaked)]);
    expect(reconcileOnce(s, soaked).plan).toEqual({ ...emptyPlan(soaked), complete: [{ name: "web", generation: 1 }] });
    expect(plan(s, soaked)).toEqual(emptyPlan(soaked));
  });
});

describe("spreading", () => {
  test("3 replicas on 2 equal nodes go 2/1, ties broken by node name", () => {
    // b connects first: the order of arrival must not matter, the name does.
    const state = replay([nodeConnected("b", T0), nodeConnected("a", T0), workloadApplied("web", T0, { spec: spec({ replicas: 3 }) })]);
    const p = plan(state, T0);
    expect(p.place.map((x) => [x.index, x.node])).toEqual([
      [0, "a"],
      [1, "b"],
      [2, "a"],
    ]);
    reconcileOnce(state, T0);
    expect(isEmptyPlan(plan(state, T0))).toBe(true);
  });
});

describe("no Ready node", () => {
  test("with no nodes at all: pend with the reason, then planning again changes nothing", () => {
    const state = replay([workloadApplied("web", T0)]);
    const { plan: p, outcome } = reconcileOnce(state, T0);
    expect(p).toEqual({
      ...emptyPlan(T0),
      pend: [{ workload: "web", index: 0, generation: 1, attempt: 0, resources: RES, readinessChecks: [], cause: "new", reason: "no nodes" }],
    });
    expect(outcome).toEqual({
      events: [{ type: "InstanceCreated", at: T0, id: "web-0.1", workload: "web", index: 0, generation: 1, attempt: 0, resources: RES, readinessChecks: [], reason: "no nodes" }],
      effects: [],
    });

    const again = plan(state, T0);
    expect(isEmptyPlan(again)).toBe(true);
    expect(again.skip).toEqual([{ workload: "web", instance: "web-0.1", gate: "unplaceable", reason: "no nodes" }]);
    expect(summarize(again)).toBe("converged (1 held)");
  });

  test("the Pending instance is scheduled once a node is Ready", () => {
    const state = replay([workloadApplied("web", T0)]);
    reconcileOnce(state, T0);
    apply(state, [nodeConnected("n1", T0 + 1_000)]);
    const { plan: p, outcome } = reconcileOnce(state, T0 + 1_000);
    expect(p).toEqual({ ...emptyPlan(T0 + 1_000), schedule: [{ instance: "web-0.1", node: "n1" }] });
    expect(outcome).toEqual({
      events: [{ type: "InstanceTransitioned", at: T0 + 1_000, id: "web-0.1", event: { type: "place", node: "n1" } }],
      effects: [{ type: "StartInstance", node: "n1", instanceId: "web-0.1", name: "web-0", workload: "web", generation: 1, spec: SPEC, ports: [], hostIp: "" }],
    });
    expect(isEmptyPlan(plan(state, T0 + 1_000))).toBe(true);
  });

  test("a node silent for longer than offlineAfterMs is not used (and is marked offline)", () => {
    const silentSince = T0 - DEFAULT_POLICY.offlineAfterMs - 1;
    const state = replay([nodeConnected("old", silentSince), nodeConnected("young", T0), workloadApplied("web", T0)]);
    expect(plan(state, T0)).toEqual({
      ...emptyPlan(T0),
      health: [{ node: "old", from: "ready", to: "offline" }],
      place: [{ workload: "web", index: 0, generation: 1, attempt: 0, resources: RES, readinessChecks: [], cause: "new", node: "young" }],
    });
  });

  test.each([
    { silence: DEFAULT_POLICY.suspectAfterMs, health: "ready", placed: true },
    { silence: DEFAULT_POLICY.suspectAfterMs + 1, health: "suspect", placed: false },
    { silence: DEFAULT_POLICY.offlineAfterMs, health: "suspect", placed: false },
    { silence: DEFAULT_POLICY.offlineAfterMs + 1, health: "offline", placed: false },
  ])("a node silent for $silence ms is $health; used: $placed", ({ silence, health, placed }) => {
    const state = replay([nodeConnected("n1", T0 - silence), workloadApplied("web", T0)]);
    const p = plan(state, T0);
    expect(p.health).toEqual(health === "ready" ? [] : [{ node: "n1", from: "ready", to: health }]);
    if (placed) expect(p.place.map((x) => x.node)).toEqual(["n1"]);
    else expect(p.pend).toEqual([{ workload: "web", index: 0, generation: 1, attempt: 0, resources: RES, readinessChecks: [], cause: "new", reason: "no node fits (1 not Ready)" }]);
  });

  test("an image workload on a process-only node pends, naming the docker executor", () => {
    const state = replay([nodeConnected("n1", T0, { executors: ["process"] }), workloadApplied("web", T0, { spec: spec({ image: "nginx:1.27", command: "" }) })]);
    const p = plan(state, T0);
    expect(p.place).toEqual([]);
    expect(p.pend).toEqual([{ workload: "web", index: 0, generation: 1, attempt: 0, resources: RES, readinessChecks: [], cause: "new", reason: "no node fits (1 no docker executor)" }]);
    expect(p.pend[0]!.reason).toContain("docker");
  });
});

describe("node health after the control plane starts listening (ListeningStarted)", () => {
  const { suspectAfterMs, offlineAfterMs, startGraceMs } = DEFAULT_POLICY;
  /** n1 was last heard a minute before a control plane that was down started at T0. */
  const restarted = () => replay([nodeConnected("n1", T0 - 60_000), { type: "ListeningStarted", at: T0, cause: "start" }]);

  test.each([
    { after: 0, health: "ready" },
    { after: startGraceMs + suspectAfterMs, health: "ready" },
    { after: startGraceMs + suspectAfterMs + 1, health: "suspect" },
    { after: startGraceMs + offlineAfterMs, health: "suspect" },
    { after: startGraceMs + offlineAfterMs + 1, health: "offline" },
  ] as const)("silence before the start does not count: $after ms after it, the node is $health", ({ after, health }) => {
    const p = plan(restarted(), T0 + after);
    expect(p.health).toEqual(health === "ready" ? [] : [{ node: "n1", from: "ready", to: health }]);
  });

  test("a node heard since the start is judged from its heartbeat: the grace is for finding the control plane again", () => {
    const state = restarted();
    apply(state, [heartbeat("n1", T0 + 1_000)]);
    expect(plan(state, T0 + 1_000 + offlineAfterMs + 1).health).toEqual([{ node: "n1", from: "ready", to: "offline" }]);
  });

  test("a start records that no agent stream survived it", () => {
    const state = replay([nodeConnected("n1", T0 - 1_000, { session: 7 }), { type: "ListeningStarted", at: T0, cause: "start" }]);
    expect(state.nodes.get("n1")).toMatchObject({ connected: false, session: 0 });
    expect(state.listeningSince).toBe(T0);
  });

  test("the writer is woken when the grace and the Suspect threshold have passed, not before", () => {
    expect(nextWakeup(restarted(), DEFAULT_POLICY, undefined)).toBe(T0 + startGraceMs + suspectAfterMs + 1);
  });

  test("without a recorded start (an old log, a simulation), silence counts from the last heartbeat", () => {
    const state = replay([nodeConnected("n1", T0 - offlineAfterMs - 1)]);
    expect(plan(state, T0).health).toEqual([{ node: "n1", from: "ready", to: "offline" }]);
  });
});

describe("scaling down", () => {
  test("stops the highest indexes, and planning again changes nothing", () => {
    const state = replay([nodeConnected("n1", T0), workloadApplied("web", T0, { spec: spec({ replicas: 3 }) })]);
    reconcileOnce(state, T0);
    for (const id of ["web-0.1", "web-1.2", "web-2.3"]) agentReports(state, T0, report("n1", id, "provisioning"), report("n1", id, "running"));
    completeAfterSoak(state);

    // The recorded fact, as given: replicas 1 at the same generation.
    const t = SOAKED + 1_000;
    apply(state, [heartbeat("n1", t), workloadApplied("web", t, { spec: spec({ replicas: 1 }), generation: 1 })]);
    const { plan: p, outcome } = reconcileOnce(state, t);
    expect(p).toEqual({
      ...emptyPlan(t),
      stop: [
        { instance: "web-1.2", reason: "scaled down to 1" },
        { instance: "web-2.3", reason: "scaled down to 1" },
      ],
    });
    expect(outcome).toEqual({
      events: [
        { type: "InstanceTransitioned", at: t, id: "web-1.2", event: { type: "stop", reason: "scaled down to 1" } },
        { type: "InstanceTransitioned", at: t, id: "web-2.3", event: { type: "stop", reason: "scaled down to 1" } },
      ],
      effects: [
        { type: "StopInstance", node: "n1", instanceId: "web-1.2", generation: 1, gracePeriodMs: 10_000 },
        { type: "StopInstance", node: "n1", instanceId: "web-2.3", generation: 1, gracePeriodMs: 10_000 },
      ],
    });
    expect(isEmptyPlan(plan(state, t))).toBe(true);
  });

  test("scaling through ApplyWorkload stops only the extra copies; the others are kept", () => {
    const state = replay([nodeConnected("n1", T0), workloadApplied("web", T0, { spec: spec({ replicas: 3 }) })]);
    reconcileOnce(state, T0);
    for (const id of ["web-0.1", "web-1.2", "web-2.3"]) agentReports(state, T0, report("n1", id, "provisioning"), report("n1", id, "running"));
    completeAfterSoak(state);
    const d = decide(state, { type: "ApplyWorkload", name: "web", labels: {}, spec: spec({ replicas: 2 }) }, SOAKED);
    apply(state, d.events);
    expect(state.workloads.get("web")).toMatchObject({ generation: 2, templateGeneration: 1 });
    expect(plan(state, SOAKED)).toEqual({ ...emptyPlan(SOAKED), stop: [{ instance: "web-2.3", reason: "scaled down to 2" }] });
  });

  test("scaling up adds copies at the new generation and keeps the running ones", () => {
    const state = replay([nodeConnected("n1", T0), workloadApplied("web", T0)]);
    reconcileOnce(state, T0);
    agentReports(state, T0, report("n1", "web-0.1", "provisioning"), report("n1", "web-0.1", "running"));
    completeAfterSoak(state);
    apply(state, decide(state, { type: "ApplyWorkload", name: "web", labels: {}, spec: spec({ replicas: 2 }) }, SOAKED).events);
    expect(plan(state, SOAKED)).toEqual({
      ...emptyPlan(SOAKED),
      place: [{ workload: "web", index: 1, generation: 2, attempt: 0, resources: RES, readinessChecks: [], cause: "new", node: "n1" }],
    });
  });
});

describe("deleting a workload", () => {
  test("stops its instances, then forgets them and the workload once the agent reports them stopped", () => {
    const state = oneRunning();
    apply(state, [{ type: "WorkloadDeleteRequested", at: T0, name: "web" }]);

    const first = reconcileOnce(state, T0);
    expect(first.plan).toEqual({ ...emptyPlan(T0), stop: [{ instance: "web-0.1", reason: "workload deleted" }] });
    expect(first.outcome).toEqual({
      events: [{ type: "InstanceTransitioned", at: T0, id: "web-0.1", event: { type: "stop", reason: "workload deleted" } }],
      effects: [{ type: "StopInstance", node: "n1", instanceId: "web-0.1", generation: 1, gracePeriodMs: 10_000 }],
    });
    // The stop is in flight: nothing more to do, and the workload stays until it lands.
    expect(plan(state, T0)).toEqual(emptyPlan(T0));
    expect(state.workloads.has("web")).toBe(true);

    agentReports(state, T0 + 100, report("n1", "web-0.1", "stopped", { exitCode: 0 }));
    expect(state.instances.get("web-0.1")!.state).toBe("stopped");

    const second = reconcileOnce(state, T0 + 100);
    expect(second.plan).toEqual({ ...emptyPlan(T0 + 100), forget: [{ instance: "web-0.1" }], removeWorkload: [{ name: "web" }] });
    expect(second.outcome).toEqual({
      events: [
        { type: "InstanceRemoved", at: T0 + 100, id: "web-0.1" },
        { type: "WorkloadRemoved", at: T0 + 100, name: "web" },
      ],
      effects: [],
    });
    expect([...state.instances.keys()]).toEqual([]);
    expect([...state.workloads.keys()]).toEqual([]);
    expect(plan(state, T0 + 100)).toEqual(emptyPlan(T0 + 100));
  });

  test("a workload with only a Pending instance is removed in one pass, with no effects", () => {
    const state = replay([workloadApplied("web", T0)]);
    reconcileOnce(state, T0);
    apply(state, [{ type: "WorkloadDeleteRequested", at: T0, name: "web" }]);
    const { plan: p, outcome } = reconcileOnce(state, T0);
    expect(p).toEqual({ ...emptyPlan(T0), stop: [{ instance: "web-0.1", reason: "workload deleted" }], removeWorkload: [{ name: "web" }] });
    expect(outcome).toEqual({
      events: [
        { type: "InstanceTransitioned", at: T0, id: "web-0.1", event: { type: "stop", reason: "workload deleted" } },
        { type: "InstanceRemoved", at: T0, id: "web-0.1" },
        { type: "WorkloadRemoved", at: T0, name: "web" },
      ],
      effects: [],
    });
    expect(state.workloads.size + state.instances.size).toBe(0);
  });
});

describe("a spec change (generation 2)", () => {
  test("places a new instance, and stops the old one once the new one runs", () => {
    const state = oneRunning();
    const v2 = spec({ args: ["2000"] });
    apply(state, [workloadApplied("web", T0, { spec: v2, generation: 2 })]);

    const first = reconcileOnce(state, T0);
    expect(first.plan).toEqual({
      ...emptyPlan(T0),
      place: [{ workload: "web", index: 0, generation: 2, attempt: 0, resources: RES, readinessChecks: [], cause: "update", node: "n1" }],
    });
    expect(first.outcome.effects).toEqual([
      { type: "StartInstance", node: "n1", instanceId: "web-0.2", name: "web-0", workload: "web", generation: 2, spec: v2, ports: [], hostIp: "" },
    ]);
    // The old copy keeps serving until its successor runs.
    expect(plan(state, T0)).toEqual(emptyPlan(T0));

    agentReports(state, T0, report("n1", "web-0.2", "provisioning", { generation: 2 }), report("n1", "web-0.2", "running", { generation: 2 }));
    // Without readiness checks it must have run for min_healthy_time (10 s by default) first.
    expect(plan(state, T0).stop).toEqual([]);
    apply(state, [heartbeat("n1", SOAKED)]);
    const second = reconcileOnce(state, SOAKED);
    expect(second.plan).toEqual({ ...emptyPlan(SOAKED), stop: [{ instance: "web-0.1", reason: "replaced by web-0.2" }], complete: [{ name: "web", generation: 2 }] });
    expect(second.outcome.effects).toEqual([{ type: "StopInstance", node: "n1", instanceId: "web-0.1", generation: 1, gracePeriodMs: 10_000 }]);
    expect(plan(state, SOAKED)).toEqual(emptyPlan(SOAKED));
  });
});

describe("a failed instance", () => {
  const FAILED_AT = T0 + 10_000;
  const REASON = "exited with code 1";

  function failedOnce(): ClusterState {
    const state = oneRunning();
    apply(state, [heartbeat("n1", FAILED_AT)]);
    agentReports(state, FAILED_AT, report("n1", "web-0.1", "failed", { reason: REASON, exitCode: 1 }));
    return state;
  }

  test.each([FAILED_AT, FAILED_AT + 999])("is held by restart backoff at %p, until failedAt + 1000", (now) => {
    const state = failedOnce();
    const p = plan(state, now);
    expect(isEmptyPlan(p)).toBe(true);
    expect(p.skip).toEqual([
      { workload: "web", instance: "web-0.1", gate: "restart-backoff", reason: `restart backoff after: ${REASON}`, until: FAILED_AT + 1_000 },
    ]);
  });

  test("is replaced with attempt + 1 once the backoff elapsed, and the failed copy is stopped", () => {
    const state = failedOnce();
    const now = FAILED_AT + 1_000;
    const { plan: p, outcome } = reconcileOnce(state, now);
    expect(p).toEqual({
      ...emptyPlan(now),
      place: [{ workload: "web", index: 0, generation: 1, attempt: 1, resources: RES, readinessChecks: [], cause: "restart", node: "n1" }],
      stop: [{ instance: "web-0.1", reason: REASON }],
    });
    expect(outcome).toEqual({
      events: [
        { type: "InstanceCreated", at: now, id: "web-0.2", workload: "web", index: 0, generation: 1, attempt: 1, resources: RES, readinessChecks: [], reason: "" },
        { type: "InstanceTransitioned", at: now, id: "web-0.2", event: { type: "place", node: "n1" } },
        { type: "InstanceTransitioned", at: now, id: "web-0.1", event: { type: "stop", reason: REASON } },
      ],
      effects: [
        { type: "StartInstance", node: "n1", instanceId: "web-0.2", name: "web-0", workload: "web", generation: 1, spec: SPEC, ports: [], hostIp: "" },
        { type: "StopInstance", node: "n1", instanceId: "web-0.1", generation: 1, gracePeriodMs: 10_000 },
      ],
    });
    expect(isEmptyPlan(plan(state, now))).toBe(true);
  });

  test("a second consecutive failure doubles the backoff", () => {
    const state = failedOnce();
    reconcileOnce(state, FAILED_AT + 1_000);
    const again = FAILED_AT + 5_000;
    apply(state, [heartbeat("n1", again)]);
    agentReports(state, again, report("n1", "web-0.2", "failed", { reason: REASON, exitCode: 1 }));
    expect(plan(state, again).skip).toEqual([
      { workload: "web", instance: "web-0.2", gate: "restart-backoff", reason: `restart backoff after: ${REASON}`, until: again + 2_000 },
    ]);
  });
});

describe("a node that goes Offline", () => {
  test("its instances are marked lost and replaced on a Ready node", () => {
    const state = replay([nodeConnected("a", T0), workloadApplied("web", T0)]);
    reconcileOnce(state, T0);
    agentReports(state, T0, report("a", "web-0.1", "provisioning"), report("a", "web-0.1", "running"));
    const now = T0 + DEFAULT_POLICY.offlineAfterMs + 1;
    apply(state, [nodeConnected("b", now)]);

    const { plan: p, outcome } = reconcileOnce(state, now);
    expect(p.health).toEqual([{ node: "a", from: "ready", to: "offline" }]);
    expect(p.markLost).toEqual([{ instance: "web-0.1", node: "a" }]);
    expect(p.place).toEqual([expect.objectContaining({ workload: "web", index: 0, generation: 1, node: "b" })]);
    expect(outcome.events.slice(0, 2)).toEqual([
      { type: "NodeHealthChanged", at: now, name: "a", from: "ready", to: "offline" },
      { type: "InstanceTransitioned", at: now, id: "web-0.1", event: { type: "lose" } },
    ]);
    expect(state.instances.get("web-0.1")).toMatchObject({ state: "lost", desired: "stop", reason: "node a went offline" });
    expect(isEmptyPlan(plan(state, now))).toBe(true);
  });

  test("the replacement of a lost instance has cause lost", () => {
    const state = replay([nodeConnected("a", T0), workloadApplied("web", T0)]);
    reconcileOnce(state, T0);
    const now = T0 + DEFAULT_POLICY.offlineAfterMs + 1;
    apply(state, [nodeConnected("b", now)]);
    expect(plan(state, now).place).toEqual([{ workload: "web", index: 0, generation: 1, attempt: 0, resources: RES, readinessChecks: [], cause: "lost", node: "b" }]);
  });

  test("an Offline node is cut off: its stream is closed, late heartbeats are refused, a new hello stops the replaced copy", () => {
    const state = replay([nodeConnected("a", T0), nodeConnected("b", T0), workloadApplied("web", T0)]);
    reconcileOnce(state, T0);
    agentReports(state, T0, report("a", "web-0.1", "provisioning"), report("a", "web-0.1", "running"));
    const away = T0 + DEFAULT_POLICY.offlineAfterMs + 1;
    apply(state, [heartbeat("b", away)]);
    const { outcome } = reconcileOnce(state, away);
    expect(outcome.effects).toContainEqual({ type: "DisconnectNode", node: "a" });
    const back = away + 1_000;
    // Its replacement runs: the copy that came back is the one to go.
    agentReports(state, back, report("b", "web-0.2", "provisioning"), report("b", "web-0.2", "running"));
    expect(decide(state, { type: "Heartbeat", node: "a", session: 1 }, back).rejection).toEqual({ kind: "StaleSession", node: "a" });
    const hello = decide(
      state,
      { type: "AgentConnected", node: "a", session: 2, executors: ["process"], version: "test", labels: {}, capacity: CAPACITY, instances: [{ id: "web-0.1", generation: 1, state: "running" }] },
      back,
    );
    expect(hello.effects).toEqual([{ type: "StopInstance", node: "a", instanceId: "web-0.1", generation: 1, gracePeriodMs: 10_000 }]);
  });
});

describe("a control plane that hears no node at all (#29)", () => {
  const { offlineAfterMs, startGraceMs } = DEFAULT_POLICY;
  const hello = (node: string, ids: string[]): Command => ({
    type: "AgentConnected",
    node,
    session: 2,
    executors: ["process"],
    version: "test",
    labels: {},
    capacity: CAPACITY,
    instances: ids.map((id) => ({ id, generation: 1, state: "running" })),
  });

  /** Two nodes each running a copy of web, then silent past the Offline threshold. */
  function fleetCutOff(): { state: ClusterState; away: number; copies: { a: string; b: string } } {
    const state = replay([nodeConnected("a", T0), nodeConnected("b", T0), workloadApplied("web", T0, { spec: spec({ replicas: 2 }) })]);
    reconcileOnce(state, T0);
    const on = (node: string) => [...state.instances.values()].find((i) => i.node === node)!.id;
    const copies = { a: on("a"), b: on("b") };
    for (const [node, id] of Object.entries(copies)) agentReports(state, T0, report(node, id, "provisioning"), report(node, id, "running"));
    return { state, away: T0 + offlineAfterMs + 1, copies };
  }

  test("every node Offline: their copies are kept, not lost (it may be the one cut off, and they could go nowhere)", () => {
    const { state, away, copies } = fleetCutOff();
    const { plan: p } = reconcileOnce(state, away);
    expect(p.health.map((h) => [h.node, h.to])).toEqual([["a", "offline"], ["b", "offline"]]);
    expect(p.markLost).toEqual([]);
    expect(p.skip).toContainEqual({ gate: "node-unreachable", node: "a", instance: copies.a, workload: "web", reason: "node Offline, but no node is heard: the control plane may be the one cut off" });
    expect([...state.instances.values()].map((i) => i.state)).toEqual(["running", "running"]);
  });

  test("the first node back gives the others the grace of a restart: nothing is lost or placed while they reconnect", () => {
    const { state, away, copies } = fleetCutOff();
    reconcileOnce(state, away);
    const back = away + 20_000;
    const d = decide(state, hello("a", [copies.a]), back);
    expect(d.events[0]).toEqual({ type: "ListeningStarted", at: back, cause: "fleet-returned" });
    apply(state, d.events);
    const { plan: p } = reconcileOnce(state, back);
    expect(p.markLost).toEqual([]);
    expect(p.place).toEqual([]);
    // b reconnects within the grace: its copy was never touched.
    const later = back + startGraceMs;
    apply(state, [heartbeat("a", later), ...decide(state, hello("b", [copies.b]), later).events]);
    expect(isEmptyPlan(plan(state, later))).toBe(true);
    expect([...state.instances.values()].map((i) => [i.id, i.state])).toEqual([[copies.a, "running"], [copies.b, "running"]]);
  });

  test("a node that does not return within the grace is lost as usual, its copy replaced on the one that came back", () => {
    const { state, away, copies } = fleetCutOff();
    reconcileOnce(state, away);
    const back = away + 20_000;
    apply(state, decide(state, hello("a", [copies.a]), back).events);
    const late = back + startGraceMs + offlineAfterMs + 1;
    apply(state, [heartbeat("a", late)]);
    const { plan: p } = reconcileOnce(state, late);
    expect(p.markLost).toEqual([{ instance: copies.b, node: "b" }]);
    expect(p.place).toEqual([expect.objectContaining({ workload: "web", cause: "lost", node: "a" })]);
  });

  test("a node that returns while another is heard changes nothing for the others", () => {
    const state = replay([nodeConnected("a", T0), nodeConnected("b", T0)]);
    const away = T0 + offlineAfterMs + 1;
    apply(state, [heartbeat("b", away)]);
    reconcileOnce(state, away);
    expect(decide(state, hello("a", []), away + 1_000).events.map((e) => e.type)).toEqual(["NodeConnected"]);
  });

  test("one node alone Offline loses its copies as usual: their replacements can only go back to it, which takes them back", () => {
    const state = replay([nodeConnected("a", T0), workloadApplied("web", T0)]);
    reconcileOnce(state, T0);
    const id = [...state.instances.keys()][0]!;
    expect(plan(state, T0 + offlineAfterMs + 1).markLost).toEqual([{ instance: id, node: "a" }]);
  });

  test("one node alone coming back records no grace: there is nobody else to wait for", () => {
    const state = replay([nodeConnected("a", T0)]);
    reconcileOnce(state, T0 + offlineAfterMs + 1);
    expect(decide(state, hello("a", []), T0 + 60_000).events.map((e) => e.type)).toEqual(["NodeConnected"]);
  });

  test("where nodes are killed knowing they are gone (sim, cost), a whole fleet's copies are lost", () => {
    const { state, away } = fleetCutOff();
    expect(plan(state, away, { ...DEFAULT_POLICY, keepCopiesWhileNoNodeHeard: false }).markLost).toHaveLength(2);
  });
});

describe("summarize", () => {
  const ADD_WEB_0 = { workload: "web", index: 0, generation: 1, attempt: 0, resources: RES, readinessChecks: [] as string[], cause: "new" as const, node: "n1" };
  const cases: Array<{ name: string; p: Plan; line: string }> = [
    { name: "empty", p: emptyPlan(T0), line: "converged" },
    { name: "only holds", p: { ...emptyPlan(T0), skip: [{ gate: "unplaceable", reason: "no nodes" }] }, line: "converged (1 held)" },
    {
      name: "several buckets, in bucket order, then skips",
      p: {
        ...emptyPlan(T0),
        stop: [{ instance: "web-1.2", reason: "x" }],
        place: [ADD_WEB_0, { ...ADD_WEB_0, index: 1 }],
        health: [{ node: "n2", from: "ready", to: "suspect" }],
        skip: [{ gate: "unplaceable", reason: "no nodes" }],
      },
      line: "health=1 place=2 stop=1 skip=1",
    },
    { name: "removals", p: { ...emptyPlan(T0), forget: [{ instance: "a-0.1" }], removeWorkload: [{ name: "a" }] }, line: "forget=1 removeWorkload=1" },
  ];
  test.each(cases)("$name → $line", ({ p, line }) => {
    expect(summarize(p)).toBe(line);
  });
});
