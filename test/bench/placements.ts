/**
 * How far one leader goes (benchmark 10, issue 33): one-replica workloads applied in batches
 * until every copy runs, on one control plane on SQLite and then on one on PostgreSQL,
 * placements/s as a ratio measured in the same run. Beside the rate, the CPU each process spent
 * per placement: the control plane, the database server (SQLite's work is the control plane's
 * own), and the benchmark's side (the simulated agents and the client). All of them share the
 * machine's cores, so when a run keeps them busy, what its placements cost in CPU bounds how
 * fast they go.
 */
import { availableParallelism } from "node:os";
import { NO_PORTS } from "../../src/core/model/ports.js";
import { startPostgres } from "../e2e/postgres-server.js";
import { BenchCluster, pool } from "./fleet.js";
import { CLOCK_TICKS_PER_S, cells, cpuTicksWithChildren, round, stats, verdict } from "./report.js";

/** CPU per placement, µs, by who spent it. */
export interface PlacementCpu {
  control: number;
  database: number;
  bench: number;
}

export interface PlacementRun {
  sqlitePerS: number;
  postgresPerS: number;
  sqliteCpu: PlacementCpu;
  postgresCpu: PlacementCpu;
}

/** What a run's CPU came to per placement, all of it. */
const cpuPerPlacement = (c: PlacementCpu) => c.control + c.database + c.bench;

const BATCH = 500;
const PLACE_AGENTS = 100;
/**
 * Enough for a few seconds a store: a rate is what a leader sustains, and over 5,000 (a second)
 * what each run pays once weighed on it, PostgreSQL's more (its control plane's CPU per placement
 * 250–266 µs over 5,000 against 188–210 µs over 20,000, in alternating runs of one build).
 */
const PLACE_WORKLOADS = 20_000;
/** The rate PostgreSQL's should reach, as a share of SQLite's in the same run (issue 33). */
const GOAL_RATIO = 0.8;
const CORES = availableParallelism();

/** `workloads` one-replica workloads applied in batches of 500, 4 calls at once, until every copy runs: on SQLite, then on PostgreSQL. */
export async function runPlacements(agents: number, workloads: number): Promise<PlacementRun> {
  /** Ticks as µs per placement. */
  const perPlacement = (ticks: number) => (ticks / CLOCK_TICKS_PER_S) * 1e6 / workloads;
  const once = async (env: Record<string, string>, database: () => number) => {
    const c = await BenchCluster.start(agents, NO_PORTS, env);
    try {
      const before = { ...c.cpuTicks(), database: database() };
      const t0 = performance.now();
      await pool(4, Math.ceil(workloads / BATCH), (b) => c.apply(...Array.from({ length: Math.min(BATCH, workloads - b * BATCH) }, (_, i) => `p-${b * BATCH + i}`)));
      await c.untilRunning(workloads);
      const perS = workloads / ((performance.now() - t0) / 1000);
      const after = { ...c.cpuTicks(), database: database() };
      const cpu = { control: perPlacement(after.control - before.control), database: perPlacement(after.database - before.database), bench: perPlacement(after.bench - before.bench) };
      return { perS, cpu };
    } finally {
      await c.stop();
    }
  };
  const sqlite = await once({}, () => 0);
  const pg = await startPostgres();
  try {
    const postgres = await once({ TESSERA_STORE: pg.url, TESSERA_CA_SECRET: "placement benchmark CA secret" }, () => cpuTicksWithChildren(pg.postmasterPid()));
    return { sqlitePerS: sqlite.perS, postgresPerS: postgres.perS, sqliteCpu: sqlite.cpu, postgresCpu: postgres.cpu };
  } finally {
    pg.remove();
  }
}

/** A row of CPU per placement (µs) by process, and the cores the runs kept busy: medians over `runs`. */
function cpuRow(store: string, runs: PlacementRun[], cpu: (r: PlacementRun) => PlacementCpu, perS: (r: PlacementRun) => number): string {
  const med = (f: (r: PlacementRun) => number) => stats(runs.map(f)).median;
  const us = (x: number) => `${Math.round(x)} µs`;
  const database = med((r) => cpu(r).database);
  return `| ${store} | ${us(med((r) => cpu(r).control))} | ${database === 0 ? "(in the control plane)" : us(database)} | ${us(med((r) => cpu(r).bench))} | ${us(med((r) => cpuPerPlacement(cpu(r))))} | ${round(med((r) => (cpuPerPlacement(cpu(r)) * perS(r)) / 1e6))} of ${CORES} |`;
}

/** Section 10's second half: `runs` placement runs, their results and what BENCHMARKS.md says of them. */
export async function benchPlacements(runs: number): Promise<{ results: Record<string, unknown>; markdown: string }> {
  const places: PlacementRun[] = [];
  for (let i = 0; i < runs; i++) {
    places.push(await runPlacements(PLACE_AGENTS, PLACE_WORKLOADS));
    console.log(`placements ${i + 1}/${runs}:`, places.at(-1));
  }
  const sqlite = stats(places.map((p) => p.sqlitePerS));
  const postgres = stats(places.map((p) => p.postgresPerS));
  const ratio = stats(places.map((p) => p.postgresPerS / p.sqlitePerS));
  const cpuRatio = stats(places.map((p) => cpuPerPlacement(p.sqliteCpu) / cpuPerPlacement(p.postgresCpu)));
  const busyRatio = stats(places.map((p) => (cpuPerPlacement(p.postgresCpu) * p.postgresPerS) / (cpuPerPlacement(p.sqliteCpu) * p.sqlitePerS)));
  return {
    results: { agents: PLACE_AGENTS, workloads: PLACE_WORKLOADS, sqlitePerS: sqlite, postgresPerS: postgres, ratio, cpuRatio, busyRatio, runs: places },
    markdown: `How far one leader goes: ${PLACE_WORKLOADS.toLocaleString("en")} one-replica workloads on ${PLACE_AGENTS} agents (batches of 500,
4 calls at once) until every copy runs, on one control plane; the writer is one thread. A few
seconds a store: over a second, what each run pays once (its first statements, its caches cold)
weighed on the rate, PostgreSQL's more.

| store | median | min | max | goal |
|---|---|---|---|---|
| SQLite (embedded) | ${cells(sqlite, "placements/s")} | |
| PostgreSQL 15 (loopback) | ${cells(postgres, "placements/s")} | |
| PostgreSQL / SQLite | ${cells(ratio, "×")} | ≥ ${GOAL_RATIO} × ${verdict(ratio.median >= GOAL_RATIO)} |

What a placement cost in CPU, by process (medians of the same runs; SQLite's writes are the control
plane's own), and how many cores the run kept busy on average (its CPU over its time):

| store | control plane | database server | benchmark side | all | cores busy |
|---|---|---|---|---|---|
${cpuRow("SQLite (embedded)", places, (p) => p.sqliteCpu, (p) => p.sqlitePerS)}
${cpuRow("PostgreSQL 15 (loopback)", places, (p) => p.postgresCpu, (p) => p.postgresPerS)}

A run's rate is the cores it keeps busy over what a placement costs, so PostgreSQL / SQLite is
(the cores its run keeps busy ÷ SQLite's run's) × (SQLite's CPU per placement ÷ PostgreSQL's):
medians **${busyRatio.median} ×** (min ${busyRatio.min}, max ${busyRatio.max}) and **${cpuRatio.median} ×** (min ${cpuRatio.min}, max ${cpuRatio.max}). The cores are the
same ${CORES} for the control plane, the database server and the simulated agents: what PostgreSQL's
placements cost beyond SQLite's, its run can make up only by keeping them busier.
`,
  };
}
