/**
 * Workload kinds through the pure core, on the simulated fleet: a system workload's copy per
 * qualifying node (joining, cordoned, drained, lost, rolled), a batch's runs to completion or
 * failure (parallelism, retries, a done index never rerun, time to live), and what the control
 * plane makes of a batch copy's exit 0.
 */
import { describe, expect, test } from "bun:test";
import type { Instance } from "../../src/core/model/cluster-state.js";
import { decide } from "../../src/core/decide/decide.js";
import { describeRejection } from "../../src/core/model/rejections.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { validateWorkload } from "../../src/core/model/validate.js";
import { WorkloadKind, type WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { CAPACITY, spec } from "./fixtures.js";

const SYSTEM = WorkloadKind.WORKLOAD_KIND_SYSTEM;
const BATCH = WorkloadKind.WORKLOAD_KIND_BATCH;

function fleetWith(nodes: Array<[string, Record<string, string>]>): SimulatedFleet {
  const fleet = new SimulatedFleet();
  for (const [name, labels] of nodes) fleet.connect({ name, capacity: CAPACITY, labels });
  fleet.settle();
  return fleet;
}

function apply(fleet: SimulatedFleet, name: string, s: WorkloadSpec): void {
  const d = fleet.turn([{ type: "ApplyWorkload", name, labels: {}, spec: s }]);
  expect(d.decisions[0]?.rejection).toBeUndefined();
  fleet.settle();
}

const copies = (fleet: SimulatedFleet, workload: string, keep: (i: Instance) => boolean = () => true) =>
  [...fleet.state.instances.values()].filter((i) => i.workload === workload && keep(i));
const runningOn = (fleet: SimulatedFleet, workload: string) =>
  copies(fleet, workload, (i) => i.state === "running" && i.desired === "run")
    .map((i) => i.node)
    .sort();

describe("system workloads", () => {
  const logship = (over: Partial<WorkloadSpec> = {}) => spec({ kind: SYSTEM, nodeSelector: { role: "edge" }, ...over });

  test("one copy on every node that qualifies, none elsewhere; a node that joins gets its copy", () => {
    const fleet = fleetWith([
      ["n1", { role: "edge" }],
      ["n2", { role: "edge" }],
      ["n3", { role: "db" }],
    ]);
    apply(fleet, "logship", logship());
    expect(runningOn(fleet, "logship")).toEqual(["n1", "n2"]);
    fleet.connect({ name: "n4", capacity: CAPACITY, labels: { role: "edge" } });
    fleet.turn();
    expect(copies(fleet, "logship").filter((i) => i.node === "n4")).toHaveLength(1);
    fleet.settle();
    expect(runningOn(fleet, "logship")).toEqual(["n1", "n2", "n4"]);
    // Names stay distinct: the new node's copy takes the lowest free index.
    expect(copies(fleet, "logship").map((i) => i.name).sort()).toEqual(["logship-0", "logship-1", "logship-2"]);
  });

  test("a copy stays with its node: Lost when the node dies, never placed on another", () => {
    const fleet = fleetWith([
      ["n1", {}],
      ["n2", {}],
    ]);
    apply(fleet, "agentd", spec({ kind: SYSTEM }));
    fleet.kill("n2");
    fleet.advance(10_000);
    expect(runningOn(fleet, "agentd")).toEqual(["n1"]);
    expect(copies(fleet, "agentd", (i) => i.node === "n2").map((i) => i.state)).toEqual(["lost"]);
    expect(copies(fleet, "agentd", (i) => i.state !== "lost")).toHaveLength(1);
  });

  test("a cordoned node keeps its copy and gets none new; uncordoned, it gets one", () => {
    const fleet = fleetWith([
      ["n1", {}],
      ["n2", {}],
    ]);
    fleet.turn([{ type: "CordonNode", node: "n2" }]);
    apply(fleet, "a", spec({ kind: SYSTEM }));
    expect(runningOn(fleet, "a")).toEqual(["n1"]);
    fleet.turn([{ type: "CordonNode", node: "n1" }]);
    fleet.settle();
    expect(runningOn(fleet, "a")).toEqual(["n1"]);
    fleet.turn([{ type: "UncordonNode", node: "n2" }]);
    fleet.settle();
    expect(runningOn(fleet, "a")).toEqual(["n1", "n2"]);
  });

  test("drain stops a node's system copies last, once its other copies are gone", () => {
    const fleet = fleetWith([
      ["n1", {}],
      ["n2", {}],
    ]);
    apply(fleet, "sys", spec({ kind: SYSTEM }));
    apply(fleet, "web", spec({ replicas: 2 }));
    const webOnN1 = copies(fleet, "web", (i) => i.node === "n1");
    expect(webOnN1).toHaveLength(1);
    const sysOnN1 = copies(fleet, "sys", (i) => i.node === "n1")[0]!;
    const first = fleet.turn([{ type: "DrainNode", node: "n1" }]);
    expect(first.plan!.skip.some((s) => s.workload === "sys" && s.node === "n1" && s.reason.startsWith("draining"))).toBe(true);
    // The service copy goes once its replacement has run for min_healthy_time (10 s without checks).
    fleet.advance(11_000);
    fleet.settle();
    expect(copies(fleet, "sys", (i) => i.node === "n1")).toEqual([]);
    expect(copies(fleet, "web", (i) => i.node === "n1")).toEqual([]);
    // The system copy's stop came after the service copy had stopped.
    const at = (id: string, type: string) => fleet.events.findIndex((e) => e.type === "InstanceTransitioned" && e.id === id && e.event.type === type);
    expect(at(webOnN1[0]!.id, "finish")).toBeGreaterThan(-1);
    expect(at(sysOnN1.id, "stop")).toBeGreaterThan(at(webOnN1[0]!.id, "finish"));
    expect(runningOn(fleet, "sys")).toEqual(["n2"]);
  });

  test("a changed template rolls node by node under max_unavailable", () => {
    const fleet = fleetWith([
      ["n1", {}],
      ["n2", {}],
      ["n3", {}],
    ]);
    apply(fleet, "sys", spec({ kind: SYSTEM, args: ["1"] }));
    const r = fleet.turn([{ type: "ApplyWorkload", name: "sys", labels: {}, spec: spec({ kind: SYSTEM, args: ["2"] }) }]);
    expect(r.plan!.stop).toHaveLength(1);
    expect(r.plan!.skip.filter((s) => s.gate === "disruption")).toHaveLength(2);
    fleet.settle();
    const live = copies(fleet, "sys", (i) => i.state === "running");
    expect(live.map((i) => i.generation)).toEqual([2, 2, 2]);
    expect(live.map((i) => i.node).sort()).toEqual(["n1", "n2", "n3"]);
  });

  test("a failed copy is restarted on its own node after the backoff", () => {
    const fleet = fleetWith([
      ["n1", {}],
      ["n2", {}],
    ]);
    apply(fleet, "sys", spec({ kind: SYSTEM }));
    const onN2 = copies(fleet, "sys", (i) => i.node === "n2")[0]!;
    fleet.crash(onN2.id, 1);
    fleet.settle();
    fleet.advance(2_000);
    const again = copies(fleet, "sys", (i) => i.node === "n2" && i.state === "running");
    expect(again).toHaveLength(1);
    expect(again[0]!.name).toBe(onN2.name);
    expect(again[0]!.attempt).toBe(1);
  });

  test("a node without room is held with its reason, and no copy waits Pending for it", () => {
    const fleet = fleetWith([
      ["n1", {}],
      ["n2", {}],
    ]);
    const r = fleet.turn([{ type: "ApplyWorkload", name: "big", labels: {}, spec: spec({ kind: SYSTEM, resources: { cpuMillis: CAPACITY.cpuMillis + 1, memoryMb: 64 } }) }]);
    expect(r.plan!.skip.filter((s) => s.gate === "unplaceable").map((s) => s.reason)).toEqual(["n1: short of cpu", "n2: short of cpu"]);
    expect(copies(fleet, "big")).toEqual([]);
  });
});

describe("batch workloads", () => {
  const job = (over: Partial<WorkloadSpec> = {}) => spec({ kind: BATCH, completions: 3, parallelism: 2, restartPolicy: { mode: 2, initialBackoff: { seconds: 1, nanos: 0 }, maxBackoff: { seconds: 1, nanos: 0 } }, ...over });
  const live = (fleet: SimulatedFleet, w: string) => copies(fleet, w, (i) => i.state === "running");
  const status = (fleet: SimulatedFleet, w: string) => {
    const wl = fleet.state.workloads.get(w);
    return { failures: wl?.failures, finished: wl?.finished ? `${wl.finished.outcome}: ${wl.finished.reason}` : null };
  };

  test("completions 3, parallelism 2: never more than 2 at once, exactly 3 successes, then Complete", () => {
    const fleet = fleetWith([["n1", {}]]);
    apply(fleet, "job", job());
    expect(live(fleet, "job").map((i) => i.index).sort()).toEqual([0, 1]);
    fleet.crash(live(fleet, "job").find((i) => i.index === 0)!.id, 0);
    fleet.settle();
    expect(copies(fleet, "job", (i) => i.state === "succeeded").map((i) => i.index)).toEqual([0]);
    expect(live(fleet, "job").map((i) => i.index).sort()).toEqual([1, 2]);
    for (const i of live(fleet, "job")) fleet.crash(i.id, 0);
    fleet.settle();
    expect(copies(fleet, "job", (i) => i.state === "succeeded").map((i) => i.index).sort()).toEqual([0, 1, 2]);
    expect(live(fleet, "job")).toEqual([]);
    expect(status(fleet, "job")).toEqual({ failures: 0, finished: "complete: 3 of 3 succeeded" });
    fleet.advance(5_000);
    expect(copies(fleet, "job", (i) => i.state !== "succeeded")).toEqual([]);
  });

  test("a failed run is retried after the backoff; past backoff_limit the workload is Failed with the last reason", () => {
    const fleet = fleetWith([["n1", {}]]);
    apply(fleet, "bad", job({ completions: 1, parallelism: 1, backoffLimit: 1 }));
    fleet.crash(live(fleet, "bad")[0]!.id, 3);
    fleet.settle();
    expect(status(fleet, "bad")).toEqual({ failures: 1, finished: null });
    expect(live(fleet, "bad")).toEqual([]);
    fleet.advance(1_500);
    const retry = live(fleet, "bad");
    expect(retry.map((i) => i.attempt)).toEqual([1]);
    fleet.crash(retry[0]!.id, 3);
    fleet.settle();
    expect(status(fleet, "bad")).toEqual({ failures: 2, finished: "failed: backoff limit 1 reached (2 failed runs): exited with code 3" });
    fleet.advance(5_000);
    expect(copies(fleet, "bad", (i) => i.state !== "stopped")).toEqual([]);
  });

  test("a copy Lost with its node runs again elsewhere; a succeeded index never runs again", () => {
    const fleet = fleetWith([
      ["n1", {}],
      ["n2", {}],
    ]);
    apply(fleet, "job", job({ completions: 2, parallelism: 2 }));
    const [a, b] = live(fleet, "job").sort((x, y) => x.index - y.index);
    fleet.crash(a!.id, 0);
    fleet.settle();
    fleet.kill(b!.node!);
    fleet.advance(10_000);
    const rerun = live(fleet, "job");
    expect(rerun.map((i) => i.index)).toEqual([1]);
    expect(rerun[0]!.node).not.toBe(b!.node);
    expect(copies(fleet, "job", (i) => i.index === 0 && i.state !== "succeeded" && i.state !== "stopped")).toEqual([]);
  });

  test("ttl_after_finished deletes a finished batch, its done runs with it", () => {
    const fleet = fleetWith([["n1", {}]]);
    apply(fleet, "once", job({ completions: 1, parallelism: 1, ttlAfterFinished: { seconds: 30, nanos: 0 } }));
    fleet.crash(live(fleet, "once")[0]!.id, 0);
    fleet.settle();
    expect(status(fleet, "once").finished).toBe("complete: 1 of 1 succeeded");
    fleet.advance(20_000);
    expect(fleet.state.workloads.has("once")).toBe(true);
    fleet.advance(15_000);
    expect(fleet.state.workloads.has("once")).toBe(false);
    expect(copies(fleet, "once")).toEqual([]);
  });

  test("an agent's report of exit 0 is the run's success (and the agent is told to let go); of another code, a failure", () => {
    const fleet = fleetWith([["n1", {}]]);
    apply(fleet, "job", job({ completions: 2 }));
    const [a, b] = live(fleet, "job");
    const ok = decide(fleet.state, { type: "ReportInstance", node: "n1", instanceId: a!.id, generation: 1, state: "failed", reason: "exited with code 0", exitCode: 0 }, fleet.now);
    expect(ok.events).toEqual([{ type: "InstanceTransitioned", at: fleet.now, id: a!.id, event: { type: "succeed" } }]);
    expect(ok.effects.map((e) => [e.type, e.type === "StopInstance" ? e.instanceId : undefined])).toEqual([["StopInstance", a!.id]]);
    const bad = decide(fleet.state, { type: "ReportInstance", node: "n1", instanceId: b!.id, generation: 1, state: "failed", reason: "exited with code 2", exitCode: 2 }, fleet.now);
    expect(bad.events.map((e) => (e.type === "InstanceTransitioned" ? e.event.type : e.type))).toEqual(["fail"]);
    // A service's exit 0 stays what it was: a failure its restart policy judges.
    apply(fleet, "svc", spec());
    const svc = live(fleet, "svc")[0]!;
    const exit0 = decide(fleet.state, { type: "ReportInstance", node: "n1", instanceId: svc.id, generation: 1, state: "failed", reason: "exited with code 0", exitCode: 0 }, fleet.now);
    expect(exit0.events.map((e) => (e.type === "InstanceTransitioned" ? e.event.type : e.type))).toEqual(["fail"]);
  });

  test("the agent's later report that it let go of a succeeded copy is superseded, not an error", () => {
    const fleet = fleetWith([["n1", {}]]);
    apply(fleet, "job", job({ completions: 1, parallelism: 1 }));
    const run = live(fleet, "job")[0]!;
    fleet.crash(run.id, 0);
    fleet.settle();
    const late = decide(fleet.state, { type: "ReportInstance", node: "n1", instanceId: run.id, generation: 1, state: "stopped", reason: "" }, fleet.now);
    expect(late.rejection?.kind).toBe("SupersededReport");
  });
});

describe("validation", () => {
  const problems = (s: WorkloadSpec) => validateWorkload({ name: "w", labels: {}, spec: s }).map(describeRejection);
  test.each([
    [spec({ kind: SYSTEM, replicas: 2 }), "workload.spec.replicas: expected none for a system workload: it runs one copy on every node that qualifies"],
    [spec({ kind: BATCH, replicas: 2 }), "workload.spec.replicas: expected none for a batch workload: it runs `completions` runs, `parallelism` at a time"],
    [spec({ completions: 3 }), "workload.spec.completions: expected none for a service workload (only kind batch has it)"],
    [spec({ kind: SYSTEM, ttlAfterFinished: { seconds: 1, nanos: 0 } }), "workload.spec.ttl_after_finished: expected none for a system workload (only kind batch has it)"],
    [spec({ kind: BATCH, completions: 0 }), "workload.spec.completions: expected from 1 to 10000, got 0"],
    [spec({ kind: BATCH, parallelism: 0 }), "workload.spec.parallelism: expected from 1 to 10000, got 0"],
    [spec({ kind: BATCH, backoffLimit: 5000 }), "workload.spec.backoff_limit: expected at most 1000, got 5000"],
    [spec({ kind: BATCH, ttlAfterFinished: { seconds: -1, nanos: 0 } }), "workload.spec.ttl_after_finished: expected a non-negative duration"],
    [spec({ kind: BATCH, restartPolicy: { mode: 1 } }), "workload.spec.restart_policy.mode: expected on_failure or unset for a batch workload: a run that exits 0 is done, and failed runs are retried up to backoff_limit (0 for none)"],
    [spec({ kind: 7 as WorkloadKind }), "workload.spec.kind: expected service, system or batch (WORKLOAD_KIND_SERVICE, _SYSTEM, _BATCH), got 7"],
  ])("%#: %s", (s, message) => {
    expect(problems(s)).toEqual([message]);
  });

  test("each kind with its own fields passes", () => {
    expect(problems(spec({ kind: SYSTEM, nodeSelector: { role: "edge" } }))).toEqual([]);
    expect(problems(spec({ kind: BATCH, completions: 5, parallelism: 2, backoffLimit: 0, ttlAfterFinished: { seconds: 3600, nanos: 0 }, restartPolicy: { mode: 2 } }))).toEqual([]);
  });
});
