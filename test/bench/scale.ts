/**
 * Benchmark 3, scale: N simulated agents (each its own TLS connection and Connect stream) and
 * W one-replica workloads applied in ApplyWorkloads batches; timed from the first apply until
 * the control plane counts every instance Running. The floor: the same batches as bare grpc-js
 * unary calls over TLS, in the same run; and, labelled apart, one bare call per workload.
 */
import { ApplyOutcome, ApplyWorkloadsRequest, ApplyWorkloadsResponse } from "../../src/gen/tessera/v1/control_plane.js";
import { applyRequest, BenchCluster, pool } from "./fleet.js";
import { startFloor } from "./floor.js";
import { cells, round, type Section, stats, verdict } from "./report.js";

/** Workloads per ApplyWorkloads call, and calls in flight (a few `ctl apply -f DIR` at once). */
const BATCH = Number(process.env.TESSERA_BENCH_BATCH ?? 500);
const BATCHES_IN_FLIGHT = Number(process.env.TESSERA_BENCH_INFLIGHT ?? 4);
/** Bare calls in flight for the one-call-per-workload row: enough to keep both ends busy. */
const UNARY_CONCURRENCY = 256;
const GOAL_MS = 2_000;
const GOAL_RSS_MB = 300;

export interface ScaleRun {
  agents: number;
  workloads: number;
  /** From the first apply to the last acknowledged. */
  applyMs: number;
  /** From the first apply to every instance Running. */
  convergeMs: number;
  /** The same ApplyWorkloads requests (built and encoded the same way) as bare calls, as many in flight, answered with a response of the real size. */
  floorMs: number;
  /** One bare 64-byte call per workload, UNARY_CONCURRENCY in flight: what telling a server about each workload one by one costs. */
  unaryFloorMs: number;
  controlPeakRssMb: number;
}

export async function runScale(agents: number, workloads: number): Promise<ScaleRun> {
  const c = await BenchCluster.start(agents);
  try {
    const batches = Math.ceil(workloads / BATCH);
    const batch = (b: number) => Array.from({ length: Math.min(BATCH, workloads - b * BATCH) }, (_, i) => `w-${b * BATCH + i}`);
    // What the control plane answers each batch (new workloads: generation 1, changed), keyed
    // by the request's size; the handshake's warm-up call, of no batch's size, is echoed.
    const answers = new Map<number, Buffer>();
    for (let b = 0; b < batches; b++) {
      const names = batch(b);
      const answer = ApplyWorkloadsResponse.encode({ applied: names.map((name) => ({ name, generation: 1, changed: true, outcome: ApplyOutcome.APPLY_OUTCOME_CREATED })) }).finish();
      answers.set(ApplyWorkloadsRequest.encode(applyRequest(names)).finish().length, Buffer.from(answer));
    }
    const floor = await startFloor(c.controlDir, (request) => answers.get(request.length) ?? request);
    const f0 = performance.now();
    await pool(BATCHES_IN_FLIGHT, batches, async (b) => void (await floor.roundTrip(Buffer.from(ApplyWorkloadsRequest.encode(applyRequest(batch(b))).finish()))));
    const floorMs = performance.now() - f0;
    const u0 = performance.now();
    await pool(UNARY_CONCURRENCY, workloads, async () => void (await floor.roundTrip()));
    const unaryFloorMs = performance.now() - u0;
    floor.close();
    const t0 = performance.now();
    await pool(BATCHES_IN_FLIGHT, batches, (b) => c.apply(...batch(b)));
    const applyMs = performance.now() - t0;
    await c.untilRunning(workloads);
    const convergeMs = performance.now() - t0;
    return { agents, workloads, applyMs, convergeMs, floorMs, unaryFloorMs, controlPeakRssMb: c.controlPeakRssMb() };
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
    unaryFloorMs: stats(main.map((r) => r.unaryFloorMs)),
    controlPeakRssMb: stats(main.map((r) => r.controlPeakRssMb)),
  };
  const perSecond = round((WORKLOADS / s.convergeMs.median) * 1000, 0);
  const ratio = (x: number) => round(x / s.floorMs.median, 1);
  const calls = Math.ceil(WORKLOADS / BATCH);
  return {
    name: "scale",
    order: 3,
    results: { agents: AGENTS, workloads: WORKLOADS, batch: BATCH, batchesInFlight: BATCHES_IN_FLIGHT, unaryConcurrency: UNARY_CONCURRENCY, goalMs: GOAL_MS, goalRssMb: GOAL_RSS_MB, ...s, runs: main, manyAgents: many },
    markdown: `## 3. Scale: ${AGENTS.toLocaleString("en")} simulated agents, ${WORKLOADS.toLocaleString("en")} workloads → all Running

Each agent has its own certificate, TLS connection and Connect stream (in the benchmark's
process; the control plane is \`dist/tessera control\` in its own, on the same two cores). A
client applies one-replica workloads with ApplyWorkloads, ${BATCH} per call and ${BATCHES_IN_FLIGHT} calls in flight
(what a few \`tessera ctl apply -f DIR\` at once send); the clock runs from the first apply until
the control plane counts every instance Running. Floor: the same ${calls} calls as bare grpc-js unary
calls over TLS on one connection, ${BATCHES_IN_FLIGHT} in flight, each request built and encoded as Tessera's client
does it and answered with a response the size of Tessera's (the server decodes nothing), client and
server in one process, in the same run: what merely carrying these requests costs on this machine.
The last row, not a floor for these calls, is what sending each workload in a call of its own costs.

| measure | median | min | max | × floor | goal |
|---|---|---|---|---|---|
| apply → all Running | ${cells(s.convergeMs, "ms")} | ${ratio(s.convergeMs.median)} | ≤ ${GOAL_MS} ms ${verdict(s.convergeMs.median <= GOAL_MS)} |
| applies acknowledged | ${cells(s.applyMs, "ms")} | ${ratio(s.applyMs.median)} | |
| floor: the same ${calls} ApplyWorkloads requests, bare | ${cells(s.floorMs, "ms")} | 1 | |
| control plane peak RSS | ${cells(s.controlPeakRssMb, "MiB")} | | ≤ ${GOAL_RSS_MB} MiB ${verdict(s.controlPeakRssMb.median <= GOAL_RSS_MB)} |
| for scale, not a floor: ${WORKLOADS.toLocaleString("en")} bare 64-byte calls, one per workload, ${UNARY_CONCURRENCY} in flight | ${cells(s.unaryFloorMs, "ms")} | ${ratio(s.unaryFloorMs.median)} | |

End to end: ${perSecond.toLocaleString("en")} workloads placed and running per second (goal 5,000/s).

${MANY_AGENTS.toLocaleString("en")} agents (one run): all Running after ${round(many.convergeMs, 0)} ms (applies ${round(many.applyMs, 0)} ms, floor ${round(many.floorMs, 0)} ms, one call per workload ${round(many.unaryFloorMs, 0)} ms), control plane peak RSS ${round(many.controlPeakRssMb, 0)} MiB.
`,
  };
}
