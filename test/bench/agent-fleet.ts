/**
 * The benchmark's simulated agents, spread over worker processes (agent-worker.ts): the hard
 * limit on open files is per process (20,000 on the benchmark machine, not raisable), every
 * agent holds a descriptor (PER_AGENT_FDS, measured), and one process's event loop, one core at
 * most, would pace 10,000 agents' heartbeats and reports instead of the control plane doing so.
 * What the workers tell (copies started) arrives here with the time it happened on this
 * process's clock.
 */
import type { Subprocess } from "bun";
import type { WorkerCommand, WorkerMessage, WorkerStart } from "./agent-worker.js";
import { cpuTicks } from "./report.js";

/**
 * Descriptors one agent holds in a worker once started (its TLS socket), and a worker's own:
 * /proc/PID/fd of a worker counted 26 with 20 agents and 1,006 with 1,000.
 */
const PER_AGENT_FDS = 1;
const WORKER_BASE_FDS = 6;
/** What a worker may hold: the limit (20,000) less room for enrollments in flight and the runtime's own. */
const WORKER_FD_BUDGET = 15_000;
/** Agents per worker: well under the per-process limit (20,000 here) at PER_AGENT_FDS each, and a fleet of 10,000 on 5 processes. */
export const AGENTS_PER_WORKER = 2_000;
/** Agents enrolling at once, over all workers: a fleet comes up over time, not in one instant of 10,000 TLS handshakes. */
const ENROLL_CONCURRENCY = 50;

export interface FleetOptions {
  /** Agents per worker process (default AGENTS_PER_WORKER); the smoke tests ask for tiny workers to cover the split. */
  perWorker?: number;
}

/** An agent killed: when, and its last heartbeat before (performance.now() of this process; undefined: none since its hello), and the copies it held. */
export interface Killed {
  at: number;
  lastBeat: number | undefined;
  copies: number;
}

export class AgentFleet {
  private readonly workers: Subprocess[] = [];
  /** Node → the worker running its agent. */
  private readonly workerOf = new Map<string, Subprocess>();
  /** Node → who waits for its agent's kill to be done. */
  private readonly kills = new Map<string, PromiseWithResolvers<Killed>>();
  private stopping = false;
  /** Rejects if a worker dies before stop(): whoever waits on the fleet must not wait forever. */
  readonly died: Promise<never>;
  private die: (err: Error) => void = () => {};

  /** `started(workload, at)`: an agent started a copy of `workload` at `at` (performance.now() of this process). */
  constructor(private readonly started: (workload: string, at: number) => void) {
    this.died = new Promise<never>((_, reject) => (this.die = reject));
    this.died.catch(() => {});
  }

  /** Starts `nodes` (named) as agents of `control`, `perWorker` to a process; resolves when every agent has started. */
  async start(nodes: string[], settings: Omit<WorkerStart, "nodes" | "concurrency">, opts: FleetOptions = {}): Promise<void> {
    const perWorker = opts.perWorker ?? AGENTS_PER_WORKER;
    if (perWorker * PER_AGENT_FDS + WORKER_BASE_FDS > WORKER_FD_BUDGET) throw new Error(`perWorker ${perWorker}: a worker would hold too many descriptors for the open-files limit`);
    const count = Math.ceil(nodes.length / perWorker);
    const concurrency = Math.max(1, Math.ceil(ENROLL_CONCURRENCY / count));
    await Promise.all(
      Array.from({ length: count }, (_, w) => {
        const up = Promise.withResolvers<void>();
        const worker = Bun.spawn([process.execPath, `${import.meta.dir}/agent-worker.ts`], {
          stdout: "inherit",
          stderr: "inherit",
          ipc: (m: WorkerMessage) => this.receive(m, up),
        });
        this.workers.push(worker);
        void worker.exited.then((code) => {
          const err = new Error(`a benchmark agent worker (pid ${worker.pid}) exited with ${code} before the fleet was stopped`);
          if (!this.stopping) this.die(err);
          up.reject(err);
        });
        const mine = nodes.slice(w * perWorker, (w + 1) * perWorker);
        for (const node of mine) this.workerOf.set(node, worker);
        worker.send({ type: "start", ...settings, nodes: mine, concurrency } satisfies WorkerCommand);
        return Promise.race([up.promise, this.died]);
      }),
    );
  }

  private receive(m: WorkerMessage, up: PromiseWithResolvers<void>): void {
    if (m.type === "up") up.resolve();
    else if (m.type === "failed") up.reject(new Error(`a benchmark agent worker failed: ${m.error}`));
    else if (m.type === "killed") this.kills.get(m.node)?.resolve({ at: m.atEpochMs - performance.timeOrigin, lastBeat: m.lastBeatEpochMs > 0 ? m.lastBeatEpochMs - performance.timeOrigin : undefined, copies: m.copies });
    else for (const [workload, atEpochMs] of m.copies) this.started(workload, atEpochMs - performance.timeOrigin);
  }

  /** Kills the agent of `node` (as kill -9 would, as the control plane sees it); resolves when it is gone. */
  kill(node: string): Promise<Killed> {
    const worker = this.workerOf.get(node);
    if (!worker) return Promise.reject(new Error(`no agent ${node} in this fleet (or killed already)`));
    this.workerOf.delete(node);
    const done = Promise.withResolvers<Killed>();
    this.kills.set(node, done);
    worker.send({ type: "kill", node } satisfies WorkerCommand);
    return Promise.race([done.promise, this.died]).finally(() => this.kills.delete(node));
  }

  /** CPU the fleet's processes have used so far (user + system), in clock ticks. */
  cpuTicks(): number {
    return this.workers.reduce((sum, w) => sum + cpuTicks(w.pid), 0);
  }

  /** Kills the workers (their agents' connections drop with them) and waits until they are gone. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const w of this.workers) w.kill("SIGKILL");
    await Promise.all(this.workers.map((w) => w.exited));
  }
}
