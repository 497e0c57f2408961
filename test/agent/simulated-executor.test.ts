/** The simulated executor: configurable start delay and failure rate, nothing spawned. */
import { expect, test } from "bun:test";
import { SimulatedExecutor } from "../../src/agent/simulated-executor.js";
import { spec } from "../core/fixtures.js";

const req = (i: number) => ({ instanceId: `w-0.${i}`, name: "w-0", workload: "w", generation: 1, spec: spec(), ports: [], hostIp: "127.0.0.1", mounts: [] });

test("fails the configured share of starts", async () => {
  const draws = [0.1, 0.9, 0.2, 0.95];
  const executor = new SimulatedExecutor({ failureRate: 0.5, random: () => draws.shift()! });
  const results = await Promise.allSettled([0, 1, 2, 3].map((i) => executor.start(req(i))));
  expect(results.map((r) => r.status)).toEqual(["rejected", "fulfilled", "rejected", "fulfilled"]);
});

test("a start takes the configured delay; stop ends it", async () => {
  const executor = new SimulatedExecutor({ startDelayMs: 50 });
  const t0 = performance.now();
  const running = await executor.start(req(1));
  expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
  expect(await running.stop(1000)).toEqual({ exitCode: null, signal: "SIGTERM" });
});
