/**
 * Benchmark 3, scale: N simulated agents (each its own TLS connection and Connect stream) and
 * W one-replica workloads applied in ApplyWorkloads batches; timed from the first apply until
 * the control plane counts every instance Running. The floor: the same batches as bare grpc-js
 * unary calls over TLS, in the same run; and, labelled apart, one bare call per workload. Three
 * sizes show how the cost grows, each with both sides' CPU (so a slow benchmark side would show),
 * and the largest, once converged, is measured idle, then loses an agent (scale-failover.ts).
 */
import { ApplyOutcome, ApplyWorkloadsRequest, ApplyWorkloadsResponse } from "../../src/gen/tessera/v1/control_plane.js";
import { NO_PORTS } from "../../src/core/model/ports.js";
import { SPEC_DEFAULTS } from "../../src/core/model/spec.js";
import { AGENTS_PER_WORKER, type FleetOptions } from "./agent-fleet.js";
import { applyRequest, BenchCluster, pool } from "./fleet.js";
import { startFloor } from "./floor.js";
import { type FailoverRun, failoverLine, measureFailover } from "./scale-failover.js";
import { CLOCK_TICKS_PER_S, cells, round, type Section, stats, verdict } from "./report.js";

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
  /** The same ApplyWorkloads requests (built and encoded the same way) as bare calls, as many in flight, answered with a response of the real size; measured at the first size only. */
  floorMs?: number;
  /** One bare 64-byte call per workload, UNARY_CONCURRENCY in flight: what telling a server about each workload one by one costs; the first size only. */
  unaryFloorMs?: number;
  controlPeakRssMb: number;
  /** CPU seconds from the first apply to every instance Running: the benchmark's side (its process and the agents' workers) and the control plane. */
  benchCpuS: number;
  controlCpuS: number;
  /** Asked for: once converged, nothing changing for `seconds`, each side's CPU as % of one core. */
  idle?: IdleRun;
  /** Asked for: then kill -9 of one agent, until its copies run elsewhere. */
  failover?: FailoverRun;
}

export interface IdleRun {
  seconds: number;
  /** From all Running until the log stopped growing (the idle window starts SETTLED_MS after). */
  settledS: number;
  /** Events the log grew by meanwhile. */
  eventsSettling: number;
  controlCpuPct: number;
  benchCpuPct: number;
}

export interface ScaleOptions {
  /** How the agents are spread over worker processes (the smoke test asks for tiny workers). */
  fleet?: FleetOptions;
  /** Once converged, measure the idle cluster for this long. */
  idleMs?: number;
  /** Then kill one agent and time its copies' replacement. */
  failover?: boolean;
  /**
   * Measure the floors first (default true). The larger sizes do not: 100,000 bare calls at
   * 256 in flight keep both cores busy for tens of seconds with 10,000 agents connected, which
   * measures the floor's load on the fleet, not the fleet.
   */
  floors?: boolean;
}

export async function runScale(agents: number, workloads: number, opts: ScaleOptions = {}): Promise<ScaleRun> {
  const c = await BenchCluster.start(agents, NO_PORTS, {}, opts.fleet);
  try {
    const batches = Math.ceil(workloads / BATCH);
    const batch = (b: number) => Array.from({ length: Math.min(BATCH, workloads - b * BATCH) }, (_, i) => `w-${b * BATCH + i}`);
    const floors = opts.floors === false ? {} : await measureFloors(c.controlDir, workloads, batches, batch);
    const cpu0 = c.cpuTicks();
    const t0 = performance.now();
    await pool(BATCHES_IN_FLIGHT, batches, (b) => c.apply(...batch(b)));
    const applyMs = performance.now() - t0;
    await c.untilRunning(workloads);
    const convergeMs = performance.now() - t0;
    const cpu1 = c.cpuTicks();
    const run: ScaleRun = {
      agents,
      workloads,
      applyMs,
      convergeMs,
      ...floors,
      controlPeakRssMb: c.controlPeakRssMb(),
      benchCpuS: (cpu1.bench - cpu0.bench) / CLOCK_TICKS_PER_S,
      controlCpuS: (cpu1.control - cpu0.control) / CLOCK_TICKS_PER_S,
    };
    if (opts.idleMs !== undefined) run.idle = await measureIdle(c, opts.idleMs);
    if (opts.failover) run.failover = await measureFailover(c, agents, workloads);
    return run;
  } finally {
    await c.stop();
  }
}

/** The floors of one size: its batches as bare calls, then one bare call per workload (server and client in this process). */
async function measureFloors(controlDir: string, workloads: number, batches: number, batch: (b: number) => string[]): Promise<{ floorMs: number; unaryFloorMs: number }> {
  // What the control plane answers each batch (new workloads: generation 1, changed), keyed
  // by the request's size; the handshake's warm-up call, of no batch's size, is echoed.
  const answers = new Map<number, Buffer>();
  for (let b = 0; b < batches; b++) {
    const names = batch(b);
    const answer = ApplyWorkloadsResponse.encode({ applied: names.map((name) => ({ name, generation: 1, changed: true, outcome: ApplyOutcome.APPLY_OUTCOME_CREATED })) }).finish();
    answers.set(ApplyWorkloadsRequest.encode(applyRequest(names)).finish().length, Buffer.from(answer));
  }
  const floor = await startFloor(controlDir, (request) => answers.get(request.length) ?? request);
  try {
    const f0 = performance.now();
    await pool(BATCHES_IN_FLIGHT, batches, async (b) => void (await floor.roundTrip(Buffer.from(ApplyWorkloadsRequest.encode(applyRequest(batch(b))).finish()))));
    const floorMs = performance.now() - f0;
    const u0 = performance.now();
    await pool(UNARY_CONCURRENCY, workloads, async () => void (await floor.roundTrip()));
    return { floorMs, unaryFloorMs: performance.now() - u0 };
  } finally {
    floor.close();
  }
}

/**
 * Each side's CPU over `ms` of a converged cluster with nothing changing: heartbeats, metrics
 * and watches only. Measured once the log has settled: with every copy Running, each rollout
 * still completes once its copy has soaked (RolloutCompleted), one change per workload.
 */
async function measureIdle(c: BenchCluster, ms: number): Promise<IdleRun> {
  const settled = await c.untilSettled(SETTLED_MS);
  const cpu0 = c.cpuTicks();
  const t0 = performance.now();
  await Bun.sleep(ms);
  const cpu1 = c.cpuTicks();
  const seconds = (performance.now() - t0) / 1000;
  const pct = (ticks: number) => (ticks / CLOCK_TICKS_PER_S / seconds) * 100;
  return { seconds, settledS: settled.ms / 1000, eventsSettling: settled.events, controlCpuPct: pct(cpu1.control - cpu0.control), benchCpuPct: pct(cpu1.bench - cpu0.bench) };
}
const AGENTS = 1_000;
const WORKLOADS = 10_000;
/**
 * The larger sizes and their runs: starting 10,000 agents is minutes of enrollment on two cores,
 * so the middle size runs once; the largest, whose goals these are, three times for a median
 * (runs of one build spread by a fifth on this machine).
 */
const LARGER: Array<{ agents: number; workloads: number; runs: number }> = [
  { agents: 5_000, workloads: 50_000, runs: 1 },
  { agents: 10_000, workloads: 100_000, runs: 3 },
];
const GOAL_LARGEST_MS = 20_000;
const GOAL_LARGEST_RSS_MB = 2_048;
const GOAL_GROWTH = 1.5;
/** Nothing changing, the largest cluster: the control plane's CPU, % of one core. */
const IDLE_MS = 30_000;
/**
 * The log unchanged this long, longer than a copy soaks before its rollout completes (the
 * default min_healthy_time: the benchmark's workloads have no checks), has settled: nothing
 * driven by time is left, and the idle window starts.
 */
const SETTLED_MS = SPEC_DEFAULTS.minHealthyWithoutChecksMs + 2_000;
const GOAL_IDLE_PCT = 25;

export async function benchScale(runs: number): Promise<Section> {
  const main: ScaleRun[] = [];
  for (let r = 0; r < runs; r++) {
    main.push(await runScale(AGENTS, WORKLOADS));
    console.log(`run ${r + 1}/${runs}:`, main[main.length - 1]);
  }
  // A larger size that fails is a row saying so: the sizes before it were measured all the same.
  const larger: LargerSize[] = [];
  for (const size of LARGER) larger.push(await runLarger(size, size === LARGER[LARGER.length - 1]));
  const s = {
    convergeMs: stats(main.map((r) => r.convergeMs)),
    applyMs: stats(main.map((r) => r.applyMs)),
    floorMs: stats(main.map((r) => r.floorMs!)),
    unaryFloorMs: stats(main.map((r) => r.unaryFloorMs!)),
    controlPeakRssMb: stats(main.map((r) => r.controlPeakRssMb)),
    benchCpuS: stats(main.map((r) => r.benchCpuS)),
    controlCpuS: stats(main.map((r) => r.controlCpuS)),
  };
  const perSecond = round((WORKLOADS / s.convergeMs.median) * 1000, 0);
  const ratio = (x: number) => round(x / s.floorMs.median, 1);
  const calls = Math.ceil(WORKLOADS / BATCH);
  const first = sizeRow(main);
  const largest = larger[larger.length - 1]!;
  const growth = "failed" in largest ? undefined : round(largest.convergeMs / largest.workloads / (first.convergeMs / first.workloads), 2);
  return {
    name: "scale",
    order: 3,
    results: { agents: AGENTS, workloads: WORKLOADS, batch: BATCH, batchesInFlight: BATCHES_IN_FLIGHT, unaryConcurrency: UNARY_CONCURRENCY, goalMs: GOAL_MS, goalRssMb: GOAL_RSS_MB, ...s, runs: main, larger, growth, goalLargestMs: GOAL_LARGEST_MS, goalLargestRssMb: GOAL_LARGEST_RSS_MB, goalGrowth: GOAL_GROWTH, goalIdlePct: GOAL_IDLE_PCT },
    markdown: `## 3. Scale: ${AGENTS.toLocaleString("en")} simulated agents, ${WORKLOADS.toLocaleString("en")} workloads → all Running

Each agent has its own certificate, TLS connection and Connect stream (the agents run in worker
processes of the benchmark, ${AGENTS_PER_WORKER.toLocaleString("en")} to a process: each holds one descriptor, and the
open-files limit is per process; the control plane is \`dist/tessera control\` in its own, all on
the same two cores). A
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

${growthSection(first, larger, growth)}`,
  };
}

/** A larger size whose run did not finish, and why. */
interface FailedRun {
  agents: number;
  workloads: number;
  failed: string;
}

/** One size's row: the medians of its runs, or its one run. */
interface SizeRow {
  agents: number;
  workloads: number;
  runs: number;
  convergeMs: number;
  controlPeakRssMb: number;
  benchCpuS: number;
  controlCpuS: number;
}

/** The row of one size's runs (all of one size). */
function sizeRow(runs: ScaleRun[]): SizeRow {
  const median = (pick: (r: ScaleRun) => number) => stats(runs.map(pick)).median;
  return {
    agents: runs[0]!.agents,
    workloads: runs[0]!.workloads,
    runs: runs.length,
    convergeMs: median((r) => r.convergeMs),
    controlPeakRssMb: median((r) => r.controlPeakRssMb),
    benchCpuS: median((r) => r.benchCpuS),
    controlCpuS: median((r) => r.controlCpuS),
  };
}

/** A larger size: its row, each run, and (the largest) the idle cluster and a failover after its last run; or why it failed. */
type LargerSize = (SizeRow & { each: ScaleRun[]; idle?: IdleRun; failover?: FailoverRun }) | FailedRun;

/** Runs one larger size `runs` times, measuring the last run idle and then a failover when `idle`; the first failure ends it. */
async function runLarger(size: (typeof LARGER)[number], idle: boolean): Promise<LargerSize> {
  const each: ScaleRun[] = [];
  try {
    for (let r = 0; r < size.runs; r++) {
      const last = r === size.runs - 1;
      each.push(await runScale(size.agents, size.workloads, { floors: false, ...(idle && last ? { idleMs: IDLE_MS, failover: true } : {}) }));
      console.log(`${size.agents} agents, run ${r + 1}/${size.runs}:`, each[each.length - 1]);
    }
  } catch (err) {
    return { agents: size.agents, workloads: size.workloads, failed: String(err) };
  }
  const last = each[each.length - 1]!;
  return { ...sizeRow(each), each, idle: last.idle, failover: last.failover };
}

/** The sizes side by side (the growth shows), the largest one's goals and its idle row. */
function growthSection(first: SizeRow, larger: LargerSize[], growth: number | undefined): string {
  const rows = [first, ...larger];
  const largest = larger[larger.length - 1]!;
  const n = (x: number) => x.toLocaleString("en");
  const cpu = (cpuS: number, ms: number) => `${round(cpuS, 1)} s (${round((cpuS / (ms / 1000)) * 100, 0)} %)`;
  const row = (r: SizeRow | FailedRun) =>
    "failed" in r
      ? `| ${n(r.agents)} | ${n(r.workloads)} | 1 | failed: ${r.failed.replaceAll("|", "/").replaceAll("\n", " ")} | | | | | |`
      : `| ${n(r.agents)} | ${n(r.workloads)} | ${r.runs === 1 ? "1" : `median of ${r.runs}`} | ${round(r.convergeMs, 0)} ms | ${n(round((r.workloads / r.convergeMs) * 1000, 0))} | ${round((r.convergeMs / r.workloads) * 1000, 0)} µs | ${round(r.controlPeakRssMb, 0)} MiB | ${cpu(r.benchCpuS, r.convergeMs)} | ${cpu(r.controlCpuS, r.convergeMs)} |`;
  const idle = "failed" in largest ? undefined : largest.idle;
  const failover = "failed" in largest ? undefined : largest.failover;
  const goals =
    "failed" in largest || growth === undefined
      ? `- ${n(largest.agents)} agents, ${n(largest.workloads)} workloads: not measured (the run failed) ${verdict(false)}; growth and idle not measured.`
      : `- ${n(largest.agents)} agents, ${n(largest.workloads)} workloads → all Running: ${round(largest.convergeMs, 0)} ms${largest.runs > 1 ? ` (median of ${largest.runs})` : ""} (goal ≤ ${n(GOAL_LARGEST_MS)} ms ${verdict(largest.convergeMs <= GOAL_LARGEST_MS)}); control plane peak RSS ${round(largest.controlPeakRssMb, 0)} MiB (goal ≤ ${n(GOAL_LARGEST_RSS_MB)} MiB ${verdict(largest.controlPeakRssMb <= GOAL_LARGEST_RSS_MB)}).
- Growth: time per workload at ${n(largest.workloads)} ÷ at ${n(first.workloads)} = ${growth}× (goal ≤ ${GOAL_GROWTH}× ${verdict(growth <= GOAL_GROWTH)}).`;
  return `### Growth: ${rows.map((r) => n(r.agents)).join(", ")} agents

The same measure at three sizes, ten workloads per agent; the larger sizes run fewer times than
the first (starting ${n(largest.agents)} agents is minutes of enrollment on two cores), the largest as often
as its row says, for its median, its idle and failure rows measured after its last run. CPU is each side's user + system
time from the first apply until all Running (/proc/PID/stat), with its share of one core over that
time: the benchmark's side is its own process and the agents' worker processes. On two cores, the
floor stays a floor while the benchmark's side leaves the control plane the core it can use.

| agents | workloads | runs | apply → all Running | placements/s | time per workload | control plane peak RSS | CPU, benchmark side | CPU, control plane |
|---|---|---|---|---|---|---|---|---|
${rows.map(row).join("\n")}

${goals}
${idle ? `- Idle: ${n(largest.agents)} connected agents and ${n(largest.workloads)} running copies, nothing changing for ${round(idle.seconds, 0)} s (heartbeats, metrics, watches), from when the log stopped growing, ${round(idle.settledS, 1)} s and ${n(idle.eventsSettling)} events after all Running (each rollout completes once its copy has soaked): the control plane used ${round(idle.controlCpuPct, 1)} % of one core (goal ≤ ${GOAL_IDLE_PCT} % ${verdict(idle.controlCpuPct <= GOAL_IDLE_PCT)}); the benchmark's side ${round(idle.benchCpuPct, 1)} %.\n` : ""}${failover ? `${failoverLine(largest.agents, failover)}\n` : ""}`;
}
