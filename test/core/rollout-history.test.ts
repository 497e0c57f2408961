/**
 * `rollout history` and `rollout undo --to-revision` read from the log (rollout-history.ts):
 * one incarnation of a name at a time, undo and restart said as such, and the spec of each
 * revision, reverts included.
 */
import { describe, expect, test } from "bun:test";
import type { Command } from "../../src/core/decide/commands.js";
import { rolloutRevisions, specAtRevision } from "../../src/core/events/rollout-history.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import type { Check, WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { specWithoutSoak as spec } from "./fixtures.js";

const READY_CHECK: Check = { name: "ready", role: 1, interval: undefined, timeout: undefined, initialDelay: undefined, successThreshold: 0, failureThreshold: 0, probe: { $case: "tcp", value: { port: 8080, portName: "" } } };
const BIG = { cpuMillis: 64_000, memoryMb: 65_536 };

function fleet(): SimulatedFleet {
  const f = new SimulatedFleet();
  f.connect({ name: "n1", capacity: BIG, labels: {} });
  f.settle();
  return f;
}

/** One command, then the fleet settles (copies run, rollouts complete, deletes finish). */
function run(f: SimulatedFleet, c: Command): void {
  const d = f.turn([c]).decisions[0]!;
  expect(d.rejection).toBeUndefined();
  f.settle();
}

const apply = (f: SimulatedFleet, s: WorkloadSpec) => run(f, { type: "ApplyWorkload", name: "web", labels: {}, spec: s });
const logged = (f: SimulatedFleet) => f.events.filter((e) => e.type !== "NodeHeartbeatReceived");
const rows = (f: SimulatedFleet) => rolloutRevisions(logged(f)).map((r) => [r.revision, r.cause, r.outcome.replace(/:.*/, "")]);

describe("a delete ends a workload's revisions", () => {
  test("apply web (1 × sleep 1), delete, apply web (3 × sleep 2): one revision 1, the new one's", () => {
    const f = fleet();
    const first = spec({ args: ["1"], replicas: 1 });
    const second = spec({ args: ["2"], replicas: 3 });
    // Deleted before its copies ran: its rollout ends there.
    f.turn([{ type: "ApplyWorkload", name: "web", labels: {}, spec: first }]);
    run(f, { type: "DeleteWorkload", name: "web" });
    expect(f.state.workloads.has("web")).toBe(false);
    expect(rows(f)).toEqual([[1, "applied", "deleted"]]);
    apply(f, second);
    expect(rows(f)).toEqual([[1, "applied", "complete"]]);
    expect(specAtRevision(logged(f), 1)).toEqual(second);
  });

  test("a revision only the deleted workload had is unknown to the new one", () => {
    const f = fleet();
    apply(f, spec({ args: ["a"] }));
    apply(f, spec({ args: ["b"] }));
    run(f, { type: "DeleteWorkload", name: "web" });
    apply(f, spec({ args: ["c"] }));
    expect(specAtRevision(logged(f), 2)).toBeUndefined();
    expect(specAtRevision(logged(f), 1)?.args).toEqual(["c"]);
  });
});

describe("undo and restart are said as such", () => {
  test("undo (the spec before), undo --to-revision, restart: each its own cause", () => {
    const f = fleet();
    const v = (n: number) => spec({ args: [`v${n}`], replicas: 2 });
    apply(f, v(1));
    apply(f, v(2));
    apply(f, v(3));
    run(f, { type: "RollbackWorkload", name: "web" });
    run(f, { type: "RollbackWorkload", name: "web", to: { revision: 1, spec: specAtRevision(logged(f), 1)! } });
    run(f, { type: "RestartWorkload", name: "web" });
    expect(rows(f)).toEqual([
      [1, "applied", "complete"],
      [2, "applied", "complete"],
      [3, "applied", "complete"],
      [4, "undo to revision 2", "complete"],
      [5, "undo to revision 1", "complete"],
      [5, "restart", "requested"],
    ]);
    expect([4, 5].map((r) => specAtRevision(logged(f), r)?.args)).toEqual([["v2"], ["v1"]]);
    expect(f.state.workloads.get("web")!.spec.args).toEqual(["v1"]);
  });

  test("a scaling keeps the revision a restart names; undo to a scaled generation brings back its replicas", () => {
    const f = fleet();
    apply(f, spec({ args: ["v1"], replicas: 1 }));
    apply(f, spec({ args: ["v1"], replicas: 3 }));
    apply(f, spec({ args: ["v2"], replicas: 3 }));
    run(f, { type: "RestartWorkload", name: "web" });
    expect(rows(f)).toEqual([
      [1, "applied", "complete"],
      [3, "applied", "complete"],
      [3, "restart", "requested"],
    ]);
    expect(specAtRevision(logged(f), 2)).toEqual(spec({ args: ["v1"], replicas: 3 }));
  });
});

test("a revert's revision is the completed spec it went back to", () => {
  const f = fleet();
  const update = { maxSurge: 1, maxUnavailable: 0, autoRevert: true, waves: [] };
  const deadline = { progressDeadline: { seconds: 20, nanos: 0 } };
  const good = spec({ args: ["good"], replicas: 2, checks: [READY_CHECK], update, ...deadline });
  apply(f, good);
  f.failingChecks.add("web");
  apply(f, spec({ ...good, args: ["bad"] }));
  f.advance(30_000);
  f.settle();
  expect(rows(f)).toEqual([
    [1, "applied", "complete"],
    [2, "applied", "reverted"],
    // The restored spec's copies never stopped: no rollout to complete.
    [3, "revert to generation 1", "in progress"],
  ]);
  expect(specAtRevision(logged(f), 3)).toEqual(good);
});
