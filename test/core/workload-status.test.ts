/**
 * A workload's status as the API reports it (views/workload-status.ts), during a rollout (#25): READY counts the
 * copies that serve, of any generation, as kubectl's READY does across ReplicaSets; UP-TO-DATE
 * the replicas with a copy of the current spec; the phase follows what serves.
 */
import { expect, test } from "bun:test";
import { instancesOfWorkload } from "../../src/core/model/cluster-state.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { workloadStatus } from "../../src/core/views/workload-status.js";
import type { Check, WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { spec } from "./fixtures.js";

const READY_CHECK: Check = { name: "ready", role: 1, interval: undefined, timeout: undefined, initialDelay: undefined, successThreshold: 0, failureThreshold: 0, probe: { $case: "tcp", value: { port: 8080, portName: "" } } };

const web = (version: string): WorkloadSpec =>
  spec({ args: [version], replicas: 3, checks: [READY_CHECK], update: { canary: 1, autoPromote: false, waves: [] }, progressDeadline: { seconds: 6, nanos: 0 } });

test("three Ready copies of generation 1 and a held canary of generation 2 that is not Ready: READY 3/3, 1 up-to-date, Running until the deadline, then Stalled", () => {
  const f = new SimulatedFleet();
  f.connect({ name: "n1", capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, labels: {} });
  f.settle();
  f.turn([{ type: "ApplyWorkload", name: "web", labels: {}, spec: web("v1"), force: false }]);
  f.settle();
  f.failingChecks.add("web");
  f.turn([{ type: "ApplyWorkload", name: "web", labels: {}, spec: web("v2"), force: false }]);
  f.settle();
  const status = () => workloadStatus(f.state, f.state.workloads.get("web")!, instancesOfWorkload(f.state, "web"), f.now);
  expect(status()).toMatchObject({ desired: 3, ready: 3, upToDate: 1, running: 1, available: 0, phase: "Running", rollout: "canary: held until promoted (0 of 1 canary available)" });
  f.advance(10_000);
  expect(status()).toMatchObject({ ready: 3, upToDate: 1, phase: "Stalled" });
  expect(status().rollout).toMatch(/^stalled: web-0: readiness checks not passing; canary held until promoted \(0 of 1 canary available\)$/);
});

test("an undo is not reported as an earlier auto-revert", () => {
  const f = new SimulatedFleet();
  f.connect({ name: "n1", capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, labels: {} });
  const apply = (version: string) => f.turn([{ type: "ApplyWorkload", name: "web", labels: {}, spec: spec({ args: [version], replicas: 2, checks: [READY_CHECK], update: { autoRevert: true, maxSurge: 1, maxUnavailable: 0, waves: [] }, progressDeadline: { seconds: 6, nanos: 0 } }), force: false }]);
  apply("v1");
  f.settle();
  f.failingChecks.add("web");
  apply("v2");
  f.advance(10_000);
  f.failingChecks.delete("web");
  f.settle();
  const status = () => workloadStatus(f.state, f.state.workloads.get("web")!, instancesOfWorkload(f.state, "web"), f.now);
  expect(status().rollout).toStartWith("complete (reverted from generation 2: not complete within progress_deadline 6s");
  apply("v3");
  f.advance(3_000);
  apply("v4");
  f.turn([{ type: "RollbackWorkload", name: "web" }]);
  f.advance(3_000);
  expect(f.state.workloads.get("web")!.spec.args).toEqual(["v3"]);
  expect(status().rollout).toBe("complete");
});

test("copies soaking that became Ready at once: the status names the oldest, whatever order the copies are held in (a standby holds them in its rows' order)", () => {
  const f = new SimulatedFleet();
  f.connect({ name: "n1", capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, labels: {} });
  f.turn([{ type: "ApplyWorkload", name: "web", labels: {}, spec: spec({ args: ["v1"], replicas: 2 }), force: false }]);
  f.settle();
  const w = f.state.workloads.get("web")!;
  const copies = instancesOfWorkload(f.state, "web");
  const named = (order: typeof copies) => workloadStatus(f.state, w, order, f.now).rollout;
  expect(named(copies)).toMatch(/^soaking: web-0\.\d+ available at /);
  expect(named([...copies].reverse())).toBe(named(copies));
});
