/** Pretends to run workloads: nothing is spawned. For tests, demos and fleet benchmarks. */
import type { Adopted, Executor, Exit, LogRequest, Running, StartRequest } from "./executor.js";

export interface SimulatedOptions {
  /** Delay before a start completes. */
  startDelayMs?: number;
}

export class SimulatedExecutor implements Executor {
  readonly kinds = ["simulated"];

  constructor(private readonly opts: SimulatedOptions = {}) {}

  /** Simulated work does not outlive the agent. */
  async adopt(): Promise<Adopted[]> {
    return [];
  }

  housekeeping(): void {}

  /** Simulated work prints nothing. */
  async readLogs(_req: LogRequest): Promise<void> {}

  async start(_req: StartRequest): Promise<Running> {
    if (this.opts.startDelayMs) await Bun.sleep(this.opts.startDelayMs);
    const { promise: exited, resolve } = Promise.withResolvers<Exit>();
    return {
      exited,
      async stop() {
        resolve({ exitCode: null, signal: "SIGTERM" });
        return exited;
      },
    };
  }
}
