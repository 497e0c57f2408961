/**
 * Small runs of the benchmarks that drive a control plane (scale, latency, failure, restart,
 * endpoints), so they cannot rot. No timing is asserted: speed goals live in `make bench`, not
 * in tests.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { requireBinary } from "../e2e/harness.js";
import { runEndpoints } from "./endpoints.js";
import { runFailure } from "./failure.js";
import { runLatency } from "./latency.js";
import { runRestart } from "./restart.js";
import { runScale } from "./scale.js";

setDefaultTimeout(60_000);
beforeAll(requireBinary);

test("scale, smoke size: 20 agents, 200 workloads, all Running", async () => {
  const r = await runScale(20, 200);
  expect(r.convergeMs).toBeGreaterThanOrEqual(r.applyMs);
  expect(r.floorMs).toBeGreaterThan(0);
  expect(r.unaryFloorMs).toBeGreaterThan(0);
  expect(r.controlPeakRssMb).toBeGreaterThan(0);
  expect(r.controlCpuS).toBeGreaterThan(0);
  expect(r.idle).toBeUndefined();
});

test("scale, split over worker processes: 4 agents 2 to a process, 20 workloads, all Running, then measured idle, then one agent killed and its copies replaced", async () => {
  const r = await runScale(4, 20, { fleet: { perWorker: 2 }, idleMs: 200, failover: true });
  expect(r.convergeMs).toBeGreaterThanOrEqual(r.applyMs);
  expect(r.benchCpuS).toBeGreaterThanOrEqual(0);
  expect(r.idle!.seconds).toBeGreaterThan(0);
  // The idle window waited for the rollouts to complete: each copy's soak ends after all Running.
  expect(r.idle!.eventsSettling).toBeGreaterThanOrEqual(20);
  // The spread placer gave the first agent some of the 20 copies; they ran elsewhere once it was Offline (4 nodes: every second, 5 s).
  expect(r.failover!.copies).toBeGreaterThan(0);
  expect([r.failover!.intervalMs, r.failover!.offlineAfterMs]).toEqual([1_000, 5_000]);
  expect(r.failover!.sinceBeatMs).toBeDefined();
  expect(r.idle!.controlCpuPct).toBeGreaterThanOrEqual(0);
  expect(r.idle!.benchCpuPct).toBeGreaterThanOrEqual(0);
});

test("latency, smoke size: apply → Running and the bare round trip, measured", async () => {
  const [run] = await runLatency(1, 5);
  expect(run!.applyP50).toBeGreaterThan(run!.floorP50);
  expect(run!.applyP99).toBeGreaterThanOrEqual(run!.applyP50);
  expect(run!.applyMax).toBeGreaterThanOrEqual(run!.applyP99);
});

test("endpoints, smoke size: each copy's endpoint arrives Ready on the one watch, after the agent started it", async () => {
  const [run] = await runEndpoints(1, 5);
  // Orders only: the copy is started before its endpoint can be seen, and the apply call before both.
  expect(run!.readyP50).toBeGreaterThan(0);
  expect(run!.applyP50).toBeGreaterThan(run!.readyP50);
  expect(run!.readyMax).toBeGreaterThanOrEqual(run!.readyP99);
  expect(run!.floorP50).toBeGreaterThan(0);
});

test("failure, smoke size: an agent holding 5 instances is killed, they all run on the other", async () => {
  const run = await runFailure(5);
  // Nothing moves before the Offline threshold (5 s by default), counted from the last heartbeat.
  expect(run.recoveryMs).toBeGreaterThan(3_000);
  expect(run.sinceHeartbeatMs).toBeGreaterThanOrEqual(0);
});

test("restart, smoke size: kill -9 of the control plane under 20 agents and 100 copies restarts none and loses none", async () => {
  const [run] = await runRestart(20, 100, 1);
  expect(run!.restarted).toBe(0);
  expect(run!.lost).toBe(0);
  expect(run!.reconnectMs).toBeGreaterThan(0);
});
