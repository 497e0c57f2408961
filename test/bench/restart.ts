/**
 * Benchmark 7, restart: a fleet of simulated agents holding one copy per workload, and the
 * control plane killed with -9 and started again at once on the same data dir. Measured from
 * the new process listening until every agent has reconnected; counted: copies started again
 * (the agents' executors count every start) and copies marked Lost. Each run restarts the same
 * converged fleet once more.
 */
import { BenchCluster, metric, pool } from "./fleet.js";
import { cells, type Section, stats, verdict } from "./report.js";
import { eventually } from "../e2e/harness.js";

const GOAL_MS = 2_000;
const BATCH = 500;

export interface RestartRun {
  /** From the new control plane listening until every agent's hello was taken. */
  reconnectMs: number;
  /** Copies the agents were told to start after the restart (0: nothing restarted). */
  restarted: number;
  /** Instances the new control plane holds as Lost once every agent is back. */
  lost: number;
}

/** Starts `agents` agents and `workloads` one-replica workloads, then restarts the control plane `runs` times. */
export async function runRestart(agents: number, workloads: number, runs: number): Promise<RestartRun[]> {
  const c = await BenchCluster.start(agents);
  try {
    await pool(4, Math.ceil(workloads / BATCH), (b) => c.apply(...Array.from({ length: Math.min(BATCH, workloads - b * BATCH) }, (_, i) => `w-${b * BATCH + i}`)));
    await c.untilRunning(workloads);
    const out: RestartRun[] = [];
    for (let r = 0; r < runs; r++) {
      const startedBefore = c.started;
      const control = await c.restartControl();
      const t0 = performance.now();
      const connected = () => control.logs.filter((l) => l.msg === "agent connected").length;
      await eventually(`${agents} agents reconnected`, () => (connected() >= agents ? true : undefined), 60_000, 5);
      const reconnectMs = performance.now() - t0;
      // Every hello decided and committed: the control plane counts every copy Running again.
      await eventually(`${workloads} Running after the restart`, async () => (metric(await c.scrape(), "tessera_instances", 'state="running"') >= workloads ? true : undefined), 60_000, 20);
      const lost = metric(await c.scrape(), "tessera_instances", 'state="lost"');
      out.push({ reconnectMs, restarted: c.started - startedBefore, lost });
    }
    return out;
  } finally {
    await c.stop();
  }
}

const AGENTS = 1_000;
const WORKLOADS = 10_000;

export async function benchRestart(runs: number): Promise<Section> {
  const all = await runRestart(AGENTS, WORKLOADS, runs);
  all.forEach((r, i) => console.log(`run ${i + 1}/${runs}:`, r));
  const s = stats(all.map((r) => r.reconnectMs));
  const restarted = all.reduce((n, r) => n + r.restarted, 0);
  const lost = all.reduce((n, r) => n + r.lost, 0);
  return {
    name: "restart",
    order: 7,
    results: { agents: AGENTS, workloads: WORKLOADS, goalMs: GOAL_MS, reconnectMs: s, restarted, lost, runs: all },
    markdown: `## 7. Restart: kill -9 of the control plane under ${AGENTS.toLocaleString("en")} agents and ${WORKLOADS.toLocaleString("en")} copies

The fleet of benchmark 3 (simulated agents in the benchmark's worker processes, each with its own TLS
connection), converged; the control plane (\`dist/tessera control\`) is killed with SIGKILL and
started again at once on the same address and data dir, ${runs} times. Measured from the new
process listening until every agent's hello was taken; counted over all runs: copies started
again and copies marked Lost. The baseline is the restart itself: a control plane that was not
running judges no node's silence (a grace after its start), and agents retry within a second.

| measure | median | min | max | goal |
|---|---|---|---|---|
| listening → all ${AGENTS.toLocaleString("en")} agents reconnected | ${cells(s, "ms")} | ≤ ${GOAL_MS} ms ${verdict(s.median <= GOAL_MS)} |

Copies restarted: **${restarted}**, copies Lost: **${lost}** over ${runs} restarts (goal 0 ${verdict(restarted === 0 && lost === 0)}).
`,
  };
}

