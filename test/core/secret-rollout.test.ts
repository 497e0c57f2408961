/**
 * A new version of a config or secret is rolled out under the workload's own update strategy
 * (#30, invariant 38): a canary holds it until promoted; auto_revert takes a bad config back to
 * the version before, with the spec.
 */
import { describe, expect, test } from "bun:test";
import type { Command } from "../../src/core/decide/commands.js";
import type { Check, UpdateStrategy } from "../../src/gen/tessera/v1/types.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { spec } from "./fixtures.js";

const READY_CHECK: Check = { name: "ready", role: 1, interval: undefined, timeout: undefined, initialDelay: undefined, successThreshold: 0, failureThreshold: 0, probe: { $case: "tcp", value: { port: 8080, portName: "" } } };
const BIG = { cpuMillis: 64_000, memoryMb: 65_536 };

function fleet(update: Partial<UpdateStrategy>): SimulatedFleet {
  const f = new SimulatedFleet();
  for (const name of ["n1", "n2"]) f.connect({ name, capacity: BIG, labels: {} });
  f.turn([put("d1", true)]);
  const web = spec({ replicas: 4, checks: [READY_CHECK], configs: [{ name: "app", mountPath: "" }], update: { waves: [], maxSurge: 1, maxUnavailable: 0, ...update }, progressDeadline: { seconds: 30, nanos: 0 } });
  f.turn([{ type: "ApplyWorkload", name: "web", labels: {}, spec: web }]);
  f.settle();
  return f;
}

const put = (digest: string, create = false): Command => ({ type: "PutSecret", kind: "config", name: "app", keys: [{ key: "app.conf", size: 3 }], digest, payload: digest, create, by: "admin" });
/** The config version each running copy of web runs: its generation's spec, as the log recorded it. */
function versionsRunning(f: SimulatedFleet): number[] {
  return [...f.state.instances.values()]
    .filter((i) => i.workload === "web" && i.desired === "run" && i.state === "running")
    .map((i) => {
      const applied = f.events.filter((e) => e.type === "WorkloadApplied" && e.workload.generation <= i.generation).at(-1);
      return applied?.type === "WorkloadApplied" ? applied.workload.spec.secretVersions["config/app"]! : 0;
    })
    .sort();
}

describe("a new version rolled out under the update strategy", () => {
  test("a canary: one copy runs the new version until promoted, then all do", () => {
    const f = fleet({ canary: 1 });
    expect(versionsRunning(f)).toEqual([1, 1, 1, 1]);
    f.turn([put("d2")]);
    f.settle();
    f.advance(5_000);
    expect(versionsRunning(f)).toEqual([1, 1, 1, 1, 2]);
    f.turn([{ type: "PromoteRollout", name: "web", by: "someone" }]);
    f.settle();
    expect(versionsRunning(f)).toEqual([2, 2, 2, 2]);
  });

  test("auto_revert: a bad config's rollout goes back to the version before, with the spec", () => {
    const f = fleet({ autoRevert: true });
    f.failingChecks.add("web");
    f.turn([put("d2")]);
    f.settle();
    f.advance(35_000);
    f.settle();
    const w = f.state.workloads.get("web")!;
    expect(f.events.some((e) => e.type === "RolloutReverted")).toBe(true);
    expect(w.spec.secretVersions).toEqual({ "config/app": 1 });
    expect(w.quarantined.map((q) => q.spec.secretVersions)).toEqual([{ "config/app": 2 }]);
    expect(versionsRunning(f)).toEqual([1, 1, 1, 1]);
  });
});
