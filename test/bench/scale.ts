/**
 * Benchmark 3, scale: N simulated agents (each its own TLS connection and Connect stream) and
 * W one-replica workloads applied in ApplyWorkloads batches; timed from the first apply until
 * the control plane counts every instance Running. The floor: one bare grpc-js unary call per
 * workload, over TLS, in the same run.
 */
import { BenchCluster, pool } from "./fleet.js";
import { startFloor } from "./floor.js";
import { cells, round, type Section, stats, verdict } from "./report.js";

/** Workloads per ApplyWorkloads call, and calls in flight (a few `ctl apply -f DIR` at once). */
const BATCH = Number(process.env.TESSERA_BENCH_BATCH ?? 500);
const BATCHES_IN_FLIGHT = Number(process.env.TESSERA_BENCH_INFLIGHT ?? 4);
/** Bare calls in flight for the floor: one call per workload, enough in flight to keep both ends busy. */
const FLOOR_CONCURRENCY = 256;
const GOAL_MS = 2_000;
const GOAL_RSS_MB = 300;

export interface ScaleRun {
  agents: number;
  workloads: number;
  /** From the first apply to the last acknowledged. */
  applyMs: number;
  /** From the first apply to every instance Running. */
  convergeMs: number;
  /** The same number of bare unary calls at the same concurrency. */
  floorMs: number;
  controlPeakRssMb: number;
}

export async function runScale(agents: number, workloads: number): Promise<ScaleRun> {
  const c = await BenchCluster.start(agents);
  try {
    const floor = await startFloor(c.controlDir);
    const f0 = performance.now();
    await pool(FLOOR_CONCURRENCY, workloads, async () => void (await floor.roundTrip()));
    const floorMs = performance.now() - f0;
    floor.close();
    const t0 = performance.now();
    const batches = Math.ceil(workloads / BATCH);
    await pool(BATCHES_IN_FLIGHT, batches, (b) => c.apply(...Array.from({ length: Math.min(BATCH, workloads - b * BATCH) }, (_, i) => `w-${b * BATCH + i}`)));
    const applyMs = performance.now() - t0;
    await c.untilRunning(workloads);
    const convergeMs = performance.now() - t0;
    return { agents, workloads, applyMs, convergeMs, floorMs, controlPeakRssMb: c.controlPeakRssMb() };
  } finally {
    await c.stop();
  }
}

const AGENTS = 1_000;
const MANY_AGENTS = 5_000;
const WORKLOADS = 10_000;

export async function benchScale(runs: number): Promise<Section> {
  const main: ScaleRun[] = [];
  for (let r = 0; r < runs; r++) {
    main.push(await runScale(AGENTS, WORKLOADS));
    console.log(`run ${r + 1}/${runs}:`, main[main.length - 1]);
  }
  // Once: starting 5,000 agents takes minutes of enrollment on two cores.
  const many = await runScale(MANY_AGENTS, WORKLOADS);
  console.log("5,000 agents:", many);
  const s = {
    convergeMs: stats(main.map((r) => r.convergeMs)),
    applyMs: stats(main.map((r) => r.applyMs)),
    floorMs: stats(main.map((r) => r.floorMs)),
    controlPeakRssMb: stats(main.map((r) => r.controlPeakRssMb)),
  };
  const perSecond = round((WORKLOADS / s.convergeMs.median) * 1000, 0);
  const ratio = (x: number, base: number) => round(x / base, 1);
  return {
    name: "scale",
    order: 3,
    results: { agents: AGENTS, workloads: WORKLOADS, batch: BATCH, batchesInFlight: BATCHES_IN_FLIGHT, floorConcurrency: FLOOR_CONCURRENCY, goalMs: GOAL_MS, goalRssMb: GOAL_RSS_MB, ...s, runs: main, manyAgents: many },
    markdown: `## 3. Scale: ${AGENTS.toLocaleString("en")} simulated agents, ${WORKLOADS.toLocaleString("en")} workloads → all Running

Each agent has its own certificate, TLS connection and Connect stream (in the benchmark's
process; the control plane is \`dist/tessera control\` in its own, on the same two cores). A
client applies one-replica workloads with ApplyWorkloads, ${BATCH} per call and ${BATCHES_IN_FLIGHT} calls in flight
(what a few \`tessera ctl apply -f DIR\` at once send); the clock runs from the first apply until
the control plane counts every instance Running. Floor: one bare grpc-js unary call over TLS per
workload, ${FLOOR_CONCURRENCY} in flight, client and server in one process, in the same run: what merely
telling a server about 10,000 things one by one costs on this machine.

| measure | median | min | max | × floor | goal |
|---|---|---|---|---|---|
| apply → all Running | ${cells(s.convergeMs, "ms")} | ${ratio(s.convergeMs.median, s.floorMs.median)} | ≤ ${GOAL_MS} ms ${verdict(s.convergeMs.median <= GOAL_MS)} |
| applies acknowledged | ${cells(s.applyMs, "ms")} | ${ratio(s.applyMs.median, s.floorMs.median)} | |
| floor: bare unary calls | ${cells(s.floorMs, "ms")} | 1 | |
| control plane peak RSS | ${cells(s.controlPeakRssMb, "MiB")} | | ≤ ${GOAL_RSS_MB} MiB ${verdict(s.controlPeakRssMb.median <= GOAL_RSS_MB)} |

End to end: ${perSecond.toLocaleString("en")} workloads placed and running per second (goal 5,000/s).

${MANY_AGENTS.toLocaleString("en")} agents (one run): all Running after ${round(many.convergeMs, 0)} ms (applies ${round(many.applyMs, 0)} ms, floor ${round(many.floorMs, 0)} ms), control plane peak RSS ${round(many.controlPeakRssMb, 0)} MiB.
`,
  };
}
