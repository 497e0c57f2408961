/**
 * Benchmark 2, latency: one workload applied → its instance Running (seen on a Watch), with
 * one simulated agent; against the floor, a bare grpc-js unary round trip over TLS, sampled
 * alternately in the same process.
 */
import { BenchCluster } from "./fleet.js";
import { startFloor } from "./floor.js";
import { cells, percentile, round, type Section, stats, verdict } from "./report.js";

const GOAL_RATIO = 5;
const GOAL_MS = 20;

export interface LatencyRun {
  /** Percentiles of apply → Running, ms. */
  applyP50: number;
  applyP99: number;
  applyMax: number;
  /** The same percentiles of the bare round trip, ms. */
  floorP50: number;
  floorP99: number;
  floorMax: number;
}

/** `batches` × `samples` alternating samples on one cluster; one LatencyRun per batch. */
export async function runLatency(batches: number, samples: number): Promise<LatencyRun[]> {
  const c = await BenchCluster.start(1);
  const floor = await startFloor(c.controlDir);
  try {
    const out: LatencyRun[] = [];
    for (let b = 0; b < batches; b++) {
      const apply: number[] = [];
      const base: number[] = [];
      for (let i = 0; i < samples; i++) {
        base.push(await floor.roundTrip());
        const name = `lat-${b}-${i}`;
        const t0 = performance.now();
        const running = c.untilWorkloadRunning(name);
        await c.apply(name);
        await running;
        apply.push(performance.now() - t0);
        // Untimed: every sample meets the same control plane, one node and no other workload
        // (and the node, with room for 640 copies, never fills).
        await c.remove(name);
      }
      out.push({
        applyP50: percentile(apply, 50),
        applyP99: percentile(apply, 99),
        applyMax: Math.max(...apply),
        floorP50: percentile(base, 50),
        floorP99: percentile(base, 99),
        floorMax: Math.max(...base),
      });
    }
    return out;
  } finally {
    floor.close();
    await c.stop();
  }
}

/** Enough for a p99 that is not the maximum: 9 samples lie above it. */
const SAMPLES = 1_000;

export async function benchLatency(runs: number): Promise<Section> {
  const batches = await runLatency(runs, SAMPLES);
  const of = (key: keyof LatencyRun) => stats(batches.map((b) => b[key]));
  const s = { applyP50Ms: of("applyP50"), applyP99Ms: of("applyP99"), applyMaxMs: of("applyMax"), floorP50Ms: of("floorP50"), floorP99Ms: of("floorP99"), floorMaxMs: of("floorMax") };
  const ratio = round(s.applyP50Ms.median / s.floorP50Ms.median, 1);
  return {
    name: "latency",
    order: 2,
    results: { samplesPerRun: SAMPLES, goalRatio: GOAL_RATIO, goalMs: GOAL_MS, ...s, ratio, batches },
    markdown: `## 2. Latency: one apply → Running, one simulated agent

${SAMPLES.toLocaleString("en")} samples per run, alternating with the floor (a bare grpc-js unary round trip over TLS, in the
same process); each workload is deleted (untimed) before the next sample, so every sample meets
the same control plane. The table gives the median over runs of each run's percentile, and each
percentile is compared with the floor's same percentile. The p99 is the nearest rank: ${SAMPLES - Math.floor(0.99 * SAMPLES) - 1} samples
of each run lie above it. The max is each run's slowest sample, one event (a collection pause
on either side), so it is given but not compared.

| measure | median | min | max | × floor | goal |
|---|---|---|---|---|---|
| apply → Running, p50 | ${cells(s.applyP50Ms, "ms")} | ${ratio} | ≤ ${GOAL_RATIO}× ${verdict(ratio <= GOAL_RATIO)} and < ${GOAL_MS} ms ${verdict(s.applyP50Ms.median < GOAL_MS)} |
| apply → Running, p99 | ${cells(s.applyP99Ms, "ms")} | ${round(s.applyP99Ms.median / s.floorP99Ms.median, 1)} | |
| apply → Running, max | ${cells(s.applyMaxMs, "ms")} | | |
| floor: bare unary round trip, p50 | ${cells(s.floorP50Ms, "ms")} | 1 | |
| floor: bare unary round trip, p99 | ${cells(s.floorP99Ms, "ms")} | 1 | |
| floor: bare unary round trip, max | ${cells(s.floorMaxMs, "ms")} | | |
`,
  };
}
