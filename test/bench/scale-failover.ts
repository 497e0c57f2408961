/**
 * Benchmark 3's failure row (issue 33): kill -9 of one agent of the converged fleet, timed until
 * its copies run elsewhere, against the bound README's "Failure detection per fleet size" states
 * for the fleet's size: with the heartbeat scaled to the fleet, the Offline threshold grows
 * with it, and so does the time to replace a lost node's copies.
 */
import { HEARTBEAT_WINDOW_MS } from "../../src/control/grpc/agent-heartbeats.js";
import { heartbeatTiming } from "../../src/core/model/heartbeat.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { type BenchCluster, simNode } from "./fleet.js";
import { round, verdict } from "./report.js";

export interface FailoverRun {
  /** Copies the killed agent held. */
  copies: number;
  /** The fleet's heartbeat interval and Offline threshold at its size, as the control plane computes them. */
  intervalMs: number;
  offlineAfterMs: number;
  /** The kill → its copies Running elsewhere (every copy of the cluster Running again). */
  recoveryMs: number;
  /** The agent's last heartbeat → the kill: where in the interval the kill fell. */
  sinceBeatMs: number | undefined;
}

/**
 * Kills the fleet's first agent as kill -9 would (its stream and connection end, it says
 * nothing more) and waits until the control plane counts all `workloads` copies Running again
 * after the other agents have started the killed one's copies.
 */
export async function measureFailover(c: BenchCluster, agents: number, workloads: number): Promise<FailoverRun> {
  const startsBefore = c.started;
  const killed = await c.killAgent(simNode(0));
  await c.untilRunning(workloads, startsBefore + killed.copies);
  const timing = heartbeatTiming(agents, DEFAULT_POLICY);
  return {
    copies: killed.copies,
    intervalMs: timing.intervalMs,
    offlineAfterMs: timing.offlineAfterMs,
    recoveryMs: performance.now() - killed.at,
    sinceBeatMs: killed.lastBeat === undefined ? undefined : killed.at - killed.lastBeat,
  };
}

/** What README's bound allows the copies of a node judged Offline to be placed and started elsewhere. */
const PLACE_AND_START_MS = 100;

/** The bound README states: Offline after the silence, the gateway's window of beats, and the copies placed and started. */
export const failoverBoundMs = (f: FailoverRun) => f.offlineAfterMs + HEARTBEAT_WINDOW_MS + PLACE_AND_START_MS;

/** Its line under the growth table. */
export function failoverLine(agents: number, f: FailoverRun): string {
  const s = (ms: number) => `${round(ms / 1000, 2)} s`;
  const bound = failoverBoundMs(f);
  const since = f.sinceBeatMs === undefined ? "" : `, ${s(f.sinceBeatMs + f.recoveryMs)} after its last heartbeat (the kill fell ${s(f.sinceBeatMs)} into the interval)`;
  return `- Failure at ${agents.toLocaleString("en")} agents, once idle: kill -9 of one agent holding ${f.copies} copies, with the fleet's heartbeat every ${s(f.intervalMs)} and Offline after ${s(f.offlineAfterMs)} of silence: its copies Running elsewhere ${s(f.recoveryMs)} after the kill${since} (README's bound for this size: ${s(bound)} ${verdict(f.recoveryMs <= bound)}).`;
}
