/** rollout undo in the core: the spec before the last change of what runs, and when there is none. */
import { expect, test } from "bun:test";
import { decide } from "../../src/core/decide/decide.js";
import { evolve, replay } from "../../src/core/events/evolve.js";
import { isReady, rolloutStatus } from "../../src/core/model/cluster-status.js";
import { resolveSpec } from "../../src/core/model/spec.js";
import { created, nodeConnected, spec, T0 } from "./fixtures.js";

test("apply v1, v2, undo: back to v1 at a new generation; a scale-only change is not remembered", () => {
  const state = replay([nodeConnected("n1", T0)]);
  const apply = (args: string[], replicas = 1, at = T0) => {
    const d = decide(state, { type: "ApplyWorkload", name: "web", labels: {}, spec: spec({ args, replicas }) }, at);
    for (const e of d.events) evolve(state, e);
    return d;
  };
  expect(decide(state, { type: "RollbackWorkload", name: "web" }, T0).rejection).toEqual({ kind: "UnknownWorkload", name: "web" });
  apply(["v1"]);
  expect(decide(state, { type: "RollbackWorkload", name: "web" }, T0).rejection).toEqual({ kind: "NothingToUndo", name: "web" });
  apply(["v2"], 1, T0 + 10);
  apply(["v2"], 3, T0 + 20); // scaling changes the generation, not what runs
  const w = state.workloads.get("web")!;
  expect([w.generation, w.templateGeneration, w.templateChangedAt, w.previousSpec?.args]).toEqual([3, 2, T0 + 10, ["v1"]]);
  const undo = decide(state, { type: "RollbackWorkload", name: "web" }, T0 + 30);
  for (const e of undo.events) evolve(state, e);
  const after = state.workloads.get("web")!;
  // Generation 1's copies run v1 still: they stay current; those of generations 2 and 3 (v2) do not.
  expect([after.generation, after.templateGeneration, after.reverted, after.spec.args, after.previousSpec?.args]).toEqual([4, 1, { from: 2, to: 3 }, ["v1"], ["v2"]]);
  // Undoing the undo goes back to v2's template: the copies of generations 2 and 3 are current again.
  for (const e of decide(state, { type: "RollbackWorkload", name: "web" }, T0 + 40).events) evolve(state, e);
  const again = state.workloads.get("web")!;
  expect([again.generation, again.templateGeneration, again.reverted, again.spec.args]).toEqual([5, 2, { from: 1, to: 4 }, ["v2"]]);
  // No copy was ever made here: generation 1's era is dropped, the last two are kept.
  expect(again.eras.map((e) => [e.from, e.template])).toEqual([[2, 2], [4, 1], [5, 2]]);
});

test("rollout status: progressing within the deadline, then stalled naming a copy that is not Ready", () => {
  const state = replay([nodeConnected("n1", T0)]);
  for (const e of decide(state, { type: "ApplyWorkload", name: "web", labels: {}, spec: spec() }, T0).events) evolve(state, e);
  const w = state.workloads.get("web")!;
  const s = resolveSpec(w.spec);
  expect(rolloutStatus(w, s, [], T0 + 1_000, 1)).toEqual({ phase: "progressing" });
  expect(rolloutStatus(w, s, [], T0 + 61_000, 1)).toEqual({ phase: "stalled", stuck: undefined, available: 0, desired: 1 });
  const pending = replay([created("web-0.1", T0)]).instances.get("web-0.1")!;
  expect(rolloutStatus(w, s, [pending], T0 + 61_000, 1)).toEqual({ phase: "stalled", stuck: pending, available: 0, desired: 1 });
  expect(rolloutStatus(w, s, [{ ...pending, state: "running", readySince: T0 }], T0 + 61_000, 1)).toEqual({ phase: "complete" });
});

test.each([
  ["running, no readiness checks", "running", [], [], true],
  ["running, every check passing", "running", ["a", "b"], ["a", "b"], true],
  ["running, one check not passing", "running", ["a", "b"], ["a"], false],
  ["provisioning, checks passing", "provisioning", ["a"], ["a"], false],
  ["failed", "failed", [], [], false],
] as const)("Ready: %s → %p", (_, state, checks, passing, ready) => {
  const inst = replay([created("web-0.1", T0)]).instances.get("web-0.1")!;
  expect(isReady({ ...inst, state, readinessChecks: [...checks], passing: [...passing] })).toBe(ready);
});

test("undo is recorded as such: to the spec before the last change, or to the revision asked for", () => {
  const state = replay([nodeConnected("n1", T0)]);
  const run = (c: Parameters<typeof decide>[1]) => {
    const d = decide(state, c, T0);
    for (const e of d.events) evolve(state, e);
    return d.events;
  };
  run({ type: "ApplyWorkload", name: "web", labels: { team: "a" }, spec: spec({ args: ["v1"] }) });
  run({ type: "ApplyWorkload", name: "web", labels: { team: "a" }, spec: spec({ args: ["v2"] }) });
  expect(run({ type: "RollbackWorkload", name: "web" })).toMatchObject([{ type: "WorkloadApplied", undo: {}, workload: { generation: 3, spec: { args: ["v1"] } } }]);
  const to = run({ type: "RollbackWorkload", name: "web", to: { revision: 2, spec: spec({ args: ["v2"] }) } });
  expect(to).toMatchObject([{ type: "WorkloadApplied", undo: { to: 2 }, workload: { generation: 4, labels: { team: "a" }, spec: { args: ["v2"] } } }]);
  // Undo to what runs already changes nothing, and records nothing.
  expect(run({ type: "RollbackWorkload", name: "web", to: { revision: 4, spec: spec({ args: ["v2"] }) } })).toEqual([]);
});
