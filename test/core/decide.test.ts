/**
 * decide(): each command against a small state, asserting the events, effects and rejections
 * it returns as plain data. A refused command records nothing and leaves the state as it was.
 */
import { describe, expect, test } from "bun:test";
import type { Command } from "../../src/core/decide/commands.js";
import { decide } from "../../src/core/decide/decide.js";
import type { Effect } from "../../src/core/model/effects.js";
import type { InstanceEvent } from "../../src/core/model/instance-machine.js";
import type { ClusterEvent } from "../../src/core/events/cluster-events.js";
import { replay } from "../../src/core/events/evolve.js";
import { type ClusterState, emptyState } from "../../src/core/model/cluster-state.js";
import { isEmptyPlan, plan } from "../../src/core/reconcile/reconcile.js";
import { apply, CAPACITY, created, heartbeat, nodeConnected, reconcileOnce, report, spec, T0, transitioned, workloadApplied } from "./fixtures.js";

const SPEC = spec();

function applyCmd(name: string, over: { spec?: ReturnType<typeof spec> | undefined; labels?: Record<string, string> } = {}): Command {
  return { type: "ApplyWorkload", name, labels: over.labels ?? {}, spec: "spec" in over ? over.spec : SPEC };
}

/** Node n1 (session 1), workload web with 3 replicas: web-0.1 scheduled, web-1.2 running, web-2.3 stopping, all on n1. */
function clusterOnN1(): ClusterState {
  return replay([
    nodeConnected("n1", T0),
    workloadApplied("web", T0, { spec: spec({ replicas: 3 }) }),
    created("web-0.1", T0),
    transitioned("web-0.1", T0, { type: "place", node: "n1" }),
    created("web-1.2", T0),
    transitioned("web-1.2", T0, { type: "place", node: "n1" }),
    transitioned("web-1.2", T0, { type: "provision" }),
    transitioned("web-1.2", T0, { type: "run" }),
    created("web-2.3", T0),
    transitioned("web-2.3", T0, { type: "place", node: "n1" }),
    transitioned("web-2.3", T0, { type: "provision" }),
    transitioned("web-2.3", T0, { type: "run" }),
    transitioned("web-2.3", T0, { type: "stop", reason: "scaled down to 2" }),
  ]);
}

describe("ApplyWorkload", () => {
  test("a new workload is recorded at generation 1", () => {
    expect(decide(emptyState(), applyCmd("web", { labels: { tier: "front" } }), T0)).toEqual({
      events: [{ type: "WorkloadApplied", at: T0, workload: { name: "web", labels: { tier: "front" }, spec: SPEC, generation: 1, templateGeneration: 1 } }],
      effects: [],
      applied: "created",
    });
  });

  test("applying the identical workload again records nothing", () => {
    const state = replay([workloadApplied("web", T0)]);
    // A fresh copy, not the same object: equality is by value.
    const d = decide(state, applyCmd("web", { spec: structuredClone(SPEC) }), T0 + 1);
    expect(d).toEqual({ events: [], effects: [], applied: "unchanged" });
    expect(d.rejection).toBeUndefined();
  });

  test("an unset optional field equals an absent one", () => {
    const state = replay([workloadApplied("web", T0, { spec: spec({ replicas: undefined }) })]);
    const { replicas: _, ...withoutReplicas } = SPEC;
    expect(decide(state, applyCmd("web", { spec: withoutReplicas as typeof SPEC }), T0).applied).toBe("unchanged");
  });

  test("a changed command line is recorded at the next generation, and instances must change", () => {
    const state = replay([workloadApplied("web", T0)]);
    const v2 = spec({ args: ["2000"] });
    expect(decide(state, applyCmd("web", { spec: v2 }), T0 + 1)).toEqual({
      events: [{ type: "WorkloadApplied", at: T0 + 1, workload: { name: "web", labels: {}, spec: v2, generation: 2, templateGeneration: 2 }, previousSpec: spec() }],
      effects: [],
      applied: "configured",
    });
  });

  // What an instance runs is the spec minus replicas and update strategy: scaling or a new
  // rollout budget bumps the generation but not templateGeneration, so nothing is replaced.
  test.each([
    { what: "replicas", s: spec({ replicas: 5 }) },
    { what: "the update strategy", s: spec({ update: { maxSurge: 2, maxUnavailable: 0, waves: [] } }) },
  ])("a change of only $what keeps templateGeneration", ({ s }) => {
    const state = replay([workloadApplied("web", T0, { generation: 3, templateGeneration: 2 })]);
    expect(decide(state, applyCmd("web", { spec: s }), T0 + 1).events).toEqual([
      { type: "WorkloadApplied", at: T0 + 1, workload: { name: "web", labels: {}, spec: s, generation: 4, templateGeneration: 2 } },
    ]);
  });

  test("a labels-only change is recorded at the same generation, and answered as such (not as a creation)", () => {
    const state = replay([workloadApplied("web", T0, { generation: 4, templateGeneration: 3 })]);
    expect(decide(state, applyCmd("web", { labels: { team: "a" } }), T0 + 1)).toEqual({
      events: [{ type: "WorkloadApplied", at: T0 + 1, workload: { name: "web", labels: { team: "a" }, spec: SPEC, generation: 4, templateGeneration: 3 } }],
      effects: [],
      applied: "relabeled",
    });
  });

  test.each([
    { what: "an upper-case name", name: "Web", s: SPEC, field: "workload.name" },
    { what: "a 64-character name", name: "a".repeat(64), s: SPEC, field: "workload.name" },
    { what: "an empty name", name: "", s: SPEC, field: "workload.name" },
    { what: "a name ending in '-'", name: "web-", s: SPEC, field: "workload.name" },
    { what: "no spec", name: "web", s: undefined, field: "workload.spec" },
    { what: "no command and no image", name: "web", s: spec({ command: "" }), field: "workload.spec.command" },
    { what: "a relative command", name: "web", s: spec({ command: "sleep" }), field: "workload.spec.command" },
    { what: "too many replicas", name: "web", s: spec({ replicas: 10_001 }), field: "workload.spec.replicas" },
    { what: "a bad env name", name: "web", s: spec({ env: { "1X": "v" } }), field: "workload.spec.env.1X" },
  ])("$what is refused, naming $field", ({ name, s, field }) => {
    const d = decide(emptyState(), applyCmd(name, { spec: s }), T0);
    expect(d).toEqual({ events: [], effects: [], rejection: { kind: "InvalidArgument", field, expected: expect.any(String) } });
  });

  test("the refusal says what was expected", () => {
    expect(decide(emptyState(), applyCmd("a".repeat(64)), T0).rejection).toEqual({
      kind: "InvalidArgument",
      field: "workload.name",
      expected: "at most 63 characters, got 64",
    });
    expect(decide(emptyState(), applyCmd("a".repeat(63)), T0).rejection).toBeUndefined();
  });

  test("a workload being deleted cannot be applied", () => {
    const state = replay([workloadApplied("web", T0), { type: "WorkloadDeleteRequested", at: T0, name: "web" }]);
    expect(decide(state, applyCmd("web"), T0)).toEqual({ events: [], effects: [], rejection: { kind: "WorkloadDeleting", name: "web" } });
  });
});

describe("ApplyWorkloads", () => {
  const item = (name: string, s = SPEC) => ({ name, labels: {}, spec: s });
  const batch = (...workloads: Array<ReturnType<typeof item>>): Command => ({ type: "ApplyWorkloads", workloads });

  test("records every workload and says, per workload, whether it changed", () => {
    const state = replay([workloadApplied("old", T0, { spec: SPEC })]);
    const d = decide(state, batch(item("new"), item("old")), T0);
    expect(d.rejection).toBeUndefined();
    expect(d.events.map((e) => e.type === "WorkloadApplied" && e.workload.name)).toEqual(["new"]);
    expect(d.appliedEach).toEqual(["created", "unchanged"]);
  });

  test.each([
    ["a bad workload, located by its position", [item("a"), item("b", spec({ command: "sleep" }))], "workloads[1].spec.command"],
    ["a name given twice", [item("a"), item("a")], "workloads[1].name"],
    ["an empty request", [], "workloads"],
  ])("refuses %s, and records none of them", (_what, workloads, field) => {
    const d = decide(emptyState(), batch(...workloads), T0);
    expect(d.rejection).toMatchObject({ kind: "InvalidArgument", field });
    expect(d.events).toEqual([]);
  });

  test("a workload being deleted refuses the whole request", () => {
    const state = replay([workloadApplied("gone", T0), { type: "WorkloadDeleteRequested", at: T0, name: "gone" }]);
    const d = decide(state, batch(item("fresh"), item("gone")), T0);
    expect(d.rejection).toEqual({ kind: "WorkloadDeleting", name: "gone" });
    expect(d.events).toEqual([]);
  });
});

describe("DeleteWorkload", () => {
  test("an unknown workload is refused", () => {
    expect(decide(emptyState(), { type: "DeleteWorkload", name: "nope" }, T0)).toEqual({
      events: [],
      effects: [],
      rejection: { kind: "UnknownWorkload", name: "nope" },
    });
  });

  test("a known workload is marked for deletion, once", () => {
    const state = replay([workloadApplied("web", T0)]);
    expect(decide(state, { type: "DeleteWorkload", name: "web" }, T0).events).toEqual([{ type: "WorkloadDeleteRequested", at: T0, name: "web" }]);
    const deleting = replay([workloadApplied("web", T0), { type: "WorkloadDeleteRequested", at: T0, name: "web" }]);
    expect(decide(deleting, { type: "DeleteWorkload", name: "web" }, T0)).toEqual({ events: [], effects: [] });
  });
});

describe("ReportInstance", () => {
  test("a valid report becomes the matching transition", () => {
    expect(decide(clusterOnN1(), report("n1", "web-0.1", "provisioning"), T0 + 5)).toEqual({
      events: [{ type: "InstanceTransitioned", at: T0 + 5, id: "web-0.1", event: { type: "provision" } }],
      effects: [],
    });
    expect(decide(clusterOnN1(), report("n1", "web-1.2", "failed", { reason: "exited with code 3", exitCode: 3 }), T0).events).toEqual([
      { type: "InstanceTransitioned", at: T0, id: "web-1.2", event: { type: "fail", reason: "exited with code 3", exitCode: 3 } },
    ]);
  });

  test("an unknown instance reported running is refused, and the agent is told to stop it", () => {
    expect(decide(clusterOnN1(), report("n1", "web-0.99", "running"), T0)).toEqual({
      events: [],
      effects: [{ type: "StopInstance", node: "n1", instanceId: "web-0.99", generation: 1, gracePeriodMs: 10_000 }],
      rejection: { kind: "UnknownInstance", id: "web-0.99" },
    });
  });

  test("an unknown instance reported stopped is refused with nothing to do", () => {
    expect(decide(clusterOnN1(), report("n1", "web-0.99", "stopped"), T0)).toEqual({
      events: [],
      effects: [],
      rejection: { kind: "UnknownInstance", id: "web-0.99" },
    });
  });

  // Each of these must leave the state exactly as it was and record nothing.
  test.each([
    { what: "from the wrong node", c: report("n2", "web-0.1", "provisioning"), rejection: { kind: "WrongNode", id: "web-0.1", node: "n1", reportedBy: "n2" } },
    {
      what: "with a stale generation",
      c: report("n1", "web-0.1", "provisioning", { generation: 0 }),
      rejection: { kind: "StaleGeneration", id: "web-0.1", reported: 0, current: 1 },
    },
    {
      what: "running while scheduled (provision was skipped)",
      c: report("n1", "web-0.1", "running"),
      rejection: { kind: "InvalidTransition", from: "scheduled", event: "run" },
    },
    { what: "stopped while running", c: report("n1", "web-1.2", "stopped"), rejection: { kind: "InvalidTransition", from: "running", event: "finish" } },
  ])("a report $what is refused", ({ c, rejection }) => {
    const state = clusterOnN1();
    const before = structuredClone(state);
    expect(decide(state, c, T0)).toEqual({ events: [], effects: [], rejection });
    expect(state).toEqual(before);
  });
});

describe("ReportCheck", () => {
  /** web-1.2 running on n1 with readiness checks http and db, neither reported yet. */
  const withChecks = (...then: ClusterEvent[]) => {
    const state = clusterOnN1();
    state.instances.get("web-1.2")!.readinessChecks = ["db", "http"];
    return apply(state, then);
  };
  const check = (name: string, passing: boolean, detail?: string): Command => ({ type: "ReportCheck", node: "n1", instanceId: "web-1.2", generation: 1, check: name, passing, detail });
  const checked = (name: string, passing: boolean, detail?: string): ClusterEvent => ({ type: "InstanceCheckReported", at: T0, id: "web-1.2", check: name, passing, ...(detail === undefined ? {} : { detail }) });
  const refused = "GET http://10.0.0.1:20000/: connection refused";

  test.each<{ what: string; before: ClusterEvent[]; c: Command; events: ClusterEvent[] }>([
    { what: "a first failing verdict with why: recorded, though the check was not passing", before: [], c: check("http", false, refused), events: [checked("http", false, refused)] },
    { what: "the same failure again: nothing", before: [checked("http", false, refused)], c: check("http", false, refused), events: [] },
    { what: "a failure that says something else: recorded", before: [checked("http", false, refused)], c: check("http", false, "GET http://10.0.0.1:20000/: 503"), events: [checked("http", false, "GET http://10.0.0.1:20000/: 503")] },
    { what: "a failing verdict without why (an older agent): nothing new", before: [], c: check("http", false), events: [] },
    { what: "a pass after a failure: recorded", before: [checked("http", false, refused)], c: check("http", true, "GET http://10.0.0.1:20000/: 200"), events: [checked("http", true)] },
    { what: "a pass again: nothing", before: [checked("http", true)], c: check("http", true), events: [] },
    { what: "a very long why: kept to its first 300 characters", before: [], c: check("http", false, "x".repeat(1000)), events: [checked("http", false, "x".repeat(300))] },
  ])("$what", ({ before, c, events }) => {
    expect(decide(withChecks(...before), c, T0).events).toEqual(events);
  });

  test("a failing check's error is the copy's reason until it passes, or the copy stops running", () => {
    const state = withChecks(checked("http", false, refused), checked("db", false, "exit code 1"));
    expect(state.instances.get("web-1.2")!.reason).toBe("readiness check db failing: exit code 1");
    // Another check passing does not clear it; this one's does.
    expect(apply(structuredClone(state), [checked("http", true)]).instances.get("web-1.2")!.reason).toBe("readiness check db failing: exit code 1");
    expect(apply(structuredClone(state), [checked("db", true)]).instances.get("web-1.2")!.reason).toBe("");
    // Stopped, it says why it stops, not why it was not Ready.
    expect(apply(structuredClone(state), [transitioned("web-1.2", T0, { type: "stop", reason: "scaled down to 1" })]).instances.get("web-1.2")!.reason).toBe("scaled down to 1");
  });
});

test("a retried report of the recorded state is accepted and changes nothing", () => {
  const state = clusterOnN1();
  const before = structuredClone(state);
  expect(decide(state, report("n1", "web-1.2", "running"), T0)).toEqual({ events: [], effects: [], applied: undefined });
  expect(state).toEqual(before);
});

describe("AgentConnected", () => {
  const connect = (instances: Array<{ id: string; generation: number; state: "running" | "provisioning" | "stopped" | "failed" }>): Command => ({
    type: "AgentConnected",
    node: "n1",
    session: 2,
    executors: ["process"],
    version: "test",
    labels: { zone: "a" },
    capacity: CAPACITY,
    instances,
  });
  const NODE_CONNECTED = nodeConnected("n1", T0 + 1, { session: 2, labels: { zone: "a" } });

  test("an agent holding nothing: Start resent for what it never got, the running one is lost, the stopping one finished", () => {
    const state = clusterOnN1();
    const before = structuredClone(state);
    expect(decide(state, connect([]), T0 + 1)).toEqual({
      events: [
        NODE_CONNECTED,
        { type: "InstanceTransitioned", at: T0 + 1, id: "web-1.2", event: { type: "fail", reason: "lost: the agent no longer holds it" } },
        { type: "InstanceTransitioned", at: T0 + 1, id: "web-2.3", event: { type: "finish" } },
      ],
      effects: [
        { type: "StartInstance", node: "n1", instanceId: "web-0.1", name: "web-0", workload: "web", generation: 1, spec: spec({ replicas: 3 }), ports: [], hostIp: "" },
      ],
    });
    expect(state).toEqual(before);
  });

  test("an agent holding everything: the record catches up, the wanted stop is resent", () => {
    const d = decide(
      clusterOnN1(),
      connect([
        { id: "web-0.1", generation: 1, state: "provisioning" },
        { id: "web-1.2", generation: 1, state: "running" },
        { id: "web-2.3", generation: 1, state: "running" },
      ]),
      T0 + 1,
    );
    expect(d).toEqual({
      events: [NODE_CONNECTED, { type: "InstanceTransitioned", at: T0 + 1, id: "web-0.1", event: { type: "provision" } }],
      effects: [{ type: "StopInstance", node: "n1", instanceId: "web-2.3", generation: 1, gracePeriodMs: 10_000 }],
    });
  });

  test("the record catches up along the machine: scheduled held as running is provision, run", () => {
    const d = decide(clusterOnN1(), connect([{ id: "web-0.1", generation: 1, state: "running" }, { id: "web-1.2", generation: 1, state: "running" }]), T0 + 1);
    expect(d.events.filter((e) => e.type === "InstanceTransitioned" && e.id === "web-0.1")).toEqual([
      { type: "InstanceTransitioned", at: T0 + 1, id: "web-0.1", event: { type: "provision" } },
      { type: "InstanceTransitioned", at: T0 + 1, id: "web-0.1", event: { type: "run" } },
    ]);
  });

  test("an instance the control plane does not know is stopped; a stopped one is left alone", () => {
    const d = decide(
      replay([nodeConnected("n1", T0)]),
      connect([
        { id: "ghost-0.7", generation: 3, state: "running" },
        { id: "gone-0.8", generation: 1, state: "stopped" },
      ]),
      T0 + 1,
    );
    expect(d).toEqual({
      events: [NODE_CONNECTED],
      effects: [{ type: "StopInstance", node: "n1", instanceId: "ghost-0.7", generation: 3, gracePeriodMs: 10_000 }],
    });
  });
});

describe("AgentConnected with a Lost instance (its node was Offline)", () => {
  /** web-0.1 ran on n1 and was lost; `then` says how far its replacement web-0.2 on n2 got. */
  function lostOnN1(then: ClusterEvent[] = [], over: { replicas?: number } = {}): ClusterState {
    return replay([
      nodeConnected("n1", T0),
      nodeConnected("n2", T0),
      workloadApplied("web", T0, { spec: spec({ replicas: over.replicas ?? 1 }) }),
      created("web-0.1", T0),
      transitioned("web-0.1", T0, { type: "place", node: "n1" }),
      transitioned("web-0.1", T0, { type: "provision" }),
      transitioned("web-0.1", T0, { type: "run" }),
      transitioned("web-0.1", T0 + 6_000, { type: "lose" }),
      heartbeat("n2", T0 + 6_500),
      ...then,
    ]);
  }
  const replacement = (upTo: "pending" | "scheduled" | "provisioning" | "running"): ClusterEvent[] => {
    const steps: ClusterEvent[] = [created("web-0.2", T0 + 6_000)];
    const path: InstanceEvent[] = [{ type: "place", node: "n2" }, { type: "provision" }, { type: "run" }];
    const n = ["pending", "scheduled", "provisioning", "running"].indexOf(upTo);
    for (const e of path.slice(0, n)) steps.push(transitioned("web-0.2", T0 + 6_000, e));
    return steps;
  };
  const reconnect = (instances: Array<{ id: string; generation: number; state: "running" | "provisioning" | "failed" }>): Command => ({
    type: "AgentConnected",
    node: "n1",
    session: 2,
    executors: ["process"],
    version: "test",
    labels: {},
    capacity: CAPACITY,
    instances,
  });
  const RECLAIM: ClusterEvent = { type: "InstanceTransitioned", at: T0 + 7_000, id: "web-0.1", event: { type: "reclaim" } };
  const STOP_IT: Effect = { type: "StopInstance", node: "n1", instanceId: "web-0.1", generation: 1, gracePeriodMs: 10_000 };

  test.each<{ name: string; then: ClusterEvent[]; reclaimed: boolean }>([
    { name: "nothing replaced it yet", then: [], reclaimed: true },
    { name: "its replacement is Pending", then: replacement("pending"), reclaimed: true },
    { name: "its replacement is Scheduled", then: replacement("scheduled"), reclaimed: true },
    { name: "its replacement is Provisioning", then: replacement("provisioning"), reclaimed: true },
    { name: "its replacement runs", then: replacement("running"), reclaimed: false },
    { name: "the workload was deleted meanwhile", then: [{ type: "WorkloadDeleteRequested", at: T0 + 6_500, name: "web" } as ClusterEvent], reclaimed: false },
    { name: "the workload was scaled to 0 meanwhile", then: [workloadApplied("web", T0 + 6_500, { spec: spec({ replicas: 0 }), generation: 2, templateGeneration: 1 })], reclaimed: false },
  ])("still running on its node, $name → reclaimed: $reclaimed", ({ then, reclaimed }) => {
    const d = decide(lostOnN1(then), reconnect([{ id: "web-0.1", generation: 1, state: "running" }]), T0 + 7_000);
    expect(d.events.slice(1)).toEqual(reclaimed ? [RECLAIM] : []);
    expect(d.effects).toEqual(reclaimed ? [] : [STOP_IT]);
  });

  test("held but not running (still starting, or failed): it is stopped, not reclaimed", () => {
    for (const state of ["provisioning", "failed"] as const) {
      const d = decide(lostOnN1(), reconnect([{ id: "web-0.1", generation: 1, state }]), T0 + 7_000);
      expect(d.events.map((e) => e.type)).toEqual(["NodeConnected"]);
      expect(d.effects).toEqual([STOP_IT]);
    }
  });

  test("reclaimed: it runs, is wanted again, and the replacement that was not running yet is cancelled", () => {
    const state = lostOnN1(replacement("provisioning"));
    const d = decide(state, reconnect([{ id: "web-0.1", generation: 1, state: "running" }]), T0 + 7_000);
    apply(state, d.events);
    expect(state.instances.get("web-0.1")).toMatchObject({ state: "running", desired: "run", reason: "" });
    const { plan: p, outcome } = reconcileOnce(state, T0 + 7_000);
    expect(p.stop).toEqual([{ instance: "web-0.2", reason: "duplicate of web-0.1" }]);
    expect(p.place).toEqual([]);
    expect(outcome.effects).toEqual([{ type: "StopInstance", node: "n2", instanceId: "web-0.2", generation: 1, gracePeriodMs: 10_000 }]);
    expect(isEmptyPlan(plan(state, T0 + 7_000))).toBe(true);
  });

  test("reclaimed: a Pending replacement is dropped at once", () => {
    const state = lostOnN1(replacement("pending"));
    apply(state, decide(state, reconnect([{ id: "web-0.1", generation: 1, state: "running" }]), T0 + 7_000).events);
    reconcileOnce(state, T0 + 7_000);
    expect(state.instances.has("web-0.2")).toBe(false);
    expect(isEmptyPlan(plan(state, T0 + 7_000))).toBe(true);
  });

  test("no longer held: it is recorded as finished", () => {
    const d = decide(lostOnN1(), reconnect([]), T0 + 7_000);
    expect(d.events.slice(1)).toEqual([{ type: "InstanceTransitioned", at: T0 + 7_000, id: "web-0.1", event: { type: "finish" } }]);
    expect(d.effects).toEqual([]);
  });
});

describe("AgentDisconnected and Heartbeat", () => {
  const state = replay([nodeConnected("n1", T0, { session: 2 })]);

  test("a close of an older stream records nothing", () => {
    expect(decide(state, { type: "AgentDisconnected", node: "n1", session: 1 }, T0)).toEqual({ events: [], effects: [] });
  });

  test("a close of the current stream records the disconnection", () => {
    expect(decide(state, { type: "AgentDisconnected", node: "n1", session: 2 }, T0)).toEqual({
      events: [{ type: "NodeDisconnected", at: T0, name: "n1" }],
      effects: [],
    });
  });

  test("heartbeats: current session accepted, older session and unknown node refused", () => {
    expect(decide(state, { type: "Heartbeat", node: "n1", session: 2 }, T0 + 1).events).toEqual([{ type: "NodeHeartbeatReceived", at: T0 + 1, name: "n1" }]);
    expect(decide(state, { type: "Heartbeat", node: "n1", session: 1 }, T0).rejection).toEqual({ kind: "StaleSession", node: "n1" });
    expect(decide(state, { type: "Heartbeat", node: "n9", session: 2 }, T0).rejection).toEqual({ kind: "UnknownNode", name: "n9" });
  });
});
