/** Whose output `logs` reads: the last ended copy of each replica from the log's facts, and the copies to read per request. */
import { describe, expect, test } from "bun:test";
import type { Instance } from "../../src/core/model/cluster-state.js";
import type { InstanceState } from "../../src/core/model/instance-machine.js";
import type { Rejection } from "../../src/core/model/rejections.js";
import { type CopyFact, type CopyOnNode, lastEndedCopies, type LogsAsked, logTargets, replicasAsked } from "../../src/core/output/log-sources.js";

/** A copy in the state: `ran` sets runningSince, `node` where it is placed. */
function inst(id: string, state: InstanceState, over: { node?: string | null; ran?: boolean; failedAt?: number } = {}): Instance {
  const name = id.slice(0, id.lastIndexOf("."));
  return {
    id,
    name,
    workload: name.slice(0, name.lastIndexOf("-")),
    index: Number(name.slice(name.lastIndexOf("-") + 1)),
    generation: 1,
    node: over.node === undefined ? "n1" : over.node,
    desired: "run",
    state,
    attempt: 0,
    resources: { cpuMillis: 100, memoryMb: 64 },
    readinessChecks: [],
    passing: [],
    ports: [],
    reason: "",
    exitCode: null,
    stderrTail: "",
    failedAt: over.failedAt ?? null,
    runningSince: over.ran === false ? null : 1,
    readySince: null,
    updatedAt: 1,
  };
}

const placed = (instance: string, node: string): CopyFact => ({ instance, fact: "placed", node });
const ran = (instance: string): CopyFact => ({ instance, fact: "ran" });
const ended = (instance: string): CopyFact => ({ instance, fact: "ended" });
/** The facts of copies that were placed, ran and ended one after another, newest first. */
const lived = (...copies: Array<[string, string]>): CopyFact[] => copies.flatMap(([id, node]) => [placed(id, node), ran(id), ended(id)]).reverse();

describe("lastEndedCopies", () => {
  test.each<[string, CopyFact[], string[], Instance[], Record<string, CopyOnNode>]>([
    ["a crash loop: the copy that ended last, where it ran", [placed("web-0.3", "n1"), ...lived(["web-0.1", "n1"], ["web-0.2", "n2"])], ["web-0"], [], { "web-0": { id: "web-0.2", node: "n2" } }],
    ["a copy that never ran printed nothing: the one before it", [ended("web-0.2"), placed("web-0.2", "n2"), ...lived(["web-0.1", "n1"])], ["web-0"], [], { "web-0": { id: "web-0.1", node: "n1" } }],
    ["failed, then finished after its stop: one end, its latest", [ended("web-0.1"), ended("web-0.2"), ran("web-0.2"), ended("web-0.1"), ran("web-0.1"), placed("web-0.2", "n2"), placed("web-0.1", "n1")], ["web-0"], [], { "web-0": { id: "web-0.1", node: "n1" } }],
    ["ended out of order: the last to end, not the last created", [ended("web-0.5"), ended("web-0.6"), ran("web-0.6"), placed("web-0.6", "n2"), ran("web-0.5"), placed("web-0.5", "n1")], ["web-0"], [], { "web-0": { id: "web-0.5", node: "n1" } }],
    ["each replica its own; replicas not asked for are left alone", lived(["web-0.1", "n1"], ["web-1.2", "n2"], ["web-2.3", "n3"]), ["web-0", "web-1"], [], { "web-0": { id: "web-0.1", node: "n1" }, "web-1": { id: "web-1.2", node: "n2" } }],
    ["none ended: nothing", [ran("web-0.1"), placed("web-0.1", "n1")], ["web-0"], [], {}],
    ["retention dropped its placement: the state's copy says where it ran", [ended("web-0.4"), ran("web-0.4")], ["web-0"], [inst("web-0.4", "failed", { node: "n4" })], { "web-0": { id: "web-0.4", node: "n4" } }],
    ["retention dropped its end too: the state's failed copy that ran", [], ["web-0"], [inst("web-0.7", "failed", { node: "n7", failedAt: 5 }), inst("web-0.8", "failed", { node: "n8", ran: false, failedAt: 9 })], { "web-0": { id: "web-0.7", node: "n7" } }],
  ])("%s", (_, facts, replicas, instances, expected) => {
    expect(Object.fromEntries(lastEndedCopies(facts, new Set(replicas), instances))).toEqual(expected);
  });

  test("reading stops once every replica asked for has its answer", () => {
    function* facts(): Generator<CopyFact> {
      yield* lived(["web-0.1", "n1"], ["web-1.2", "n2"]);
      throw new Error("read past what was needed");
    }
    expect(lastEndedCopies(facts(), new Set(["web-0", "web-1"]), []).size).toBe(2);
  });
});

describe("replicasAsked and logTargets", () => {
  const ask = (instance: string, previous = false): LogsAsked => ({ workload: "web", instance, previous });
  const onN = (id: string, node = "n1"): CopyOnNode => ({ id, node });

  test.each<[string, LogsAsked, number, Instance[], Record<string, CopyOnNode>, string[], ReturnType<typeof logTargets>]>([
    [
      "every replica: the current copy that ran, its last ended copy behind it; one that has not run yet: its last ended copy; one with neither: left out",
      ask(""),
      3,
      [inst("web-0.4", "running"), inst("web-1.5", "pending", { node: null, ran: false })],
      { "web-0": onN("web-0.2"), "web-1": onN("web-1.3", "n3") },
      ["web-0", "web-1", "web-2"],
      [
        { name: "web-0", copies: [onN("web-0.4"), onN("web-0.2")] },
        { name: "web-1", copies: [onN("web-1.3", "n3")] },
      ],
    ],
    ["backing off: the failed copy is current and last ended, read once", ask("web-0"), 1, [inst("web-0.4", "failed")], { "web-0": onN("web-0.4") }, ["web-0"], [{ name: "web-0", copies: [onN("web-0.4")] }]],
    [
      "a rollout: the old copy still runs while the new one is pending",
      ask("web-0"),
      1,
      [inst("web-0.4", "running", { node: "old" }), inst("web-0.5", "scheduled", { node: "new", ran: false })],
      {},
      ["web-0"],
      [{ name: "web-0", copies: [onN("web-0.4", "old")] }],
    ],
    ["previous: only the last ended copies", ask("", true), 2, [inst("web-0.4", "running")], { "web-1": onN("web-1.3") }, ["web-0", "web-1"], [{ name: "web-1", copies: [onN("web-1.3")] }]],
    ["previous, none ended: refused for the workload", ask("", true), 2, [inst("web-0.4", "running")], {}, ["web-0", "web-1"], { kind: "NoEndedCopy", of: "web" }],
    ["previous of one replica that has none", ask("web-1", true), 2, [], {}, ["web-1"], { kind: "NoEndedCopy", of: "web-1" }],
    ["previous of a replica scaled away: its copies' ends are still in the log", ask("web-7", true), 2, [], { "web-7": onN("web-7.1") }, ["web-7"], [{ name: "web-7", copies: [onN("web-7.1")] }]],
    ["one replica that has not run and never ended", ask("web-1"), 2, [inst("web-1.5", "pending", { node: null, ran: false })], {}, ["web-1"], { kind: "NeverRan", instance: "web-1" }],
    ["a replica the workload does not have", ask("web-9"), 2, [], {}, ["web-9"], { kind: "UnknownInstance", id: "web-9", workload: "web" }],
    ["one copy by id, as it is", ask("web-0.3"), 1, [inst("web-0.3", "failed"), inst("web-0.4", "running")], {}, [], [{ name: "web-0", copies: [onN("web-0.3")] }]],
    ["a copy by id that has not run", ask("web-0.4"), 1, [inst("web-0.4", "scheduled", { ran: false })], {}, [], { kind: "NeverRan", instance: "web-0.4" }],
    ["a copy by id the state no longer holds", ask("web-0.2"), 1, [], {}, [], { kind: "UnknownInstance", id: "web-0.2", workload: "web" }],
  ])("%s", (_, asked, replicas, instances, lastEnded, wanted, expected) => {
    expect([...(replicasAsked(asked, replicas, instances) as Set<string>)].sort()).toEqual(wanted);
    expect(logTargets(asked, replicas, instances, new Map(Object.entries(lastEnded)))).toEqual(expected);
  });

  test.each<[string, LogsAsked, Rejection]>([
    ["previous of one copy: it names one copy already", ask("web-0.3", true), { kind: "InvalidArgument", field: "instance", expected: "a replica's name (web-0) with previous: web-0.3 names one copy" }],
    ["another workload's replica", ask("api-0"), { kind: "UnknownInstance", id: "api-0", workload: "web" }],
    ["a workload whose name starts the same", ask("web-x-0"), { kind: "UnknownInstance", id: "web-x-0", workload: "web" }],
  ])("refused: %s", (_, asked, rejection) => {
    expect(replicasAsked(asked, 1, [])).toEqual(rejection);
  });
});
