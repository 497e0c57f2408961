/** Pretends to run workloads: nothing is spawned. For tests, demos and fleet benchmarks. */
import type { Adopted, CopyCounters, ExecProcess, ExecRequest, Executor, Exit, LogRequest, Running, StartRequest } from "./executor.js";

export interface SimulatedOptions {
  /** Delay before a start completes. */
  startDelayMs?: number;
  /** Share of starts that fail (0..1). */
  failureRate?: number;
  /** Source of randomness for failures (injectable for tests). */
  random?: () => number;
}

export class SimulatedExecutor implements Executor {
  readonly kinds = ["simulated"];

  constructor(private readonly opts: SimulatedOptions = {}) {}

  /** Simulated work does not outlive the agent. */
  async adopt(): Promise<Adopted[]> {
    return [];
  }

  housekeeping(): void {}

  /** Nothing runs, so nothing is used: a simulated copy reports no usage. */
  async usage(): Promise<CopyCounters[]> {
    return [];
  }

  /** Simulated checks pass. */
  async probeTarget(): Promise<undefined> {
    return undefined;
  }

  /** Simulated work has no environment to run a command in. */
  async exec(req: ExecRequest): Promise<ExecProcess> {
    throw new Error(`instance ${req.instanceId} is simulated: there is nothing to run a command in`);
  }

  /** Simulated work prints nothing. */
  async readLogs(_req: LogRequest): Promise<void> {}

  async start(req: StartRequest): Promise<Running> {
    if (this.opts.startDelayMs) await Bun.sleep(this.opts.startDelayMs);
    if ((this.opts.random ?? Math.random)() < (this.opts.failureRate ?? 0)) throw new Error(`simulated failure starting ${req.instanceId}`);
    const { promise: exited, resolve } = Promise.withResolvers<Exit>();
    return {
      exited,
      async stop() {
        resolve({ exitCode: null, signal: "SIGTERM" });
        return exited;
      },
      // Nothing runs to take it.
      async signal() {},
    };
  }
}
