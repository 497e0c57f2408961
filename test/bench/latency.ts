/**
 * Benchmark 2, latency: one workload applied → its instance Running (seen on a Watch), with
 * one simulated agent; against the floor, a bare grpc-js unary round trip over TLS, sampled
 * alternately in the same process.
 */
import { BenchCluster } from "./fleet.js";
import { startFloor } from "./floor.js";
import { cells, round, type Section, stats, verdict } from "./report.js";

const GOAL_RATIO = 5;
const GOAL_MS = 20;

export interface LatencyRun {
  /** p50 of apply → Running, ms. */
  applyP50: number;
  /** p50 of the bare round trip, ms. */
  floorP50: number;
  applyP99: number;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
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
      }
      out.push({ applyP50: percentile(apply, 50), floorP50: percentile(base, 50), applyP99: percentile(apply, 99) });
    }
    return out;
  } finally {
    floor.close();
    await c.stop();
  }
}

const SAMPLES = 50;

export async function benchLatency(runs: number): Promise<Section> {
  const batches = await runLatency(runs, SAMPLES);
  const s = { applyP50Ms: stats(batches.map((b) => b.applyP50)), applyP99Ms: stats(batches.map((b) => b.applyP99)), floorP50Ms: stats(batches.map((b) => b.floorP50)) };
  const ratio = round(s.applyP50Ms.median / s.floorP50Ms.median, 1);
  return {
    name: "latency",
    order: 2,
    results: { samplesPerRun: SAMPLES, goalRatio: GOAL_RATIO, goalMs: GOAL_MS, ...s, ratio, batches },
    markdown: `## 2. Latency: one apply → Running, one simulated agent

${SAMPLES} samples per run, alternating with the floor (a bare grpc-js unary round trip over TLS, in the
same process); the table gives the median over runs of each run's percentile.

| measure | median | min | max | × floor | goal |
|---|---|---|---|---|---|
| apply → Running, p50 | ${cells(s.applyP50Ms, "ms")} | ${ratio} | ≤ ${GOAL_RATIO}× ${verdict(ratio <= GOAL_RATIO)} and < ${GOAL_MS} ms ${verdict(s.applyP50Ms.median < GOAL_MS)} |
| apply → Running, p99 | ${cells(s.applyP99Ms, "ms")} | ${round(s.applyP99Ms.median / s.floorP50Ms.median, 1)} | |
| floor: bare unary round trip, p50 | ${cells(s.floorP50Ms, "ms")} | 1 | |
`,
  };
}
