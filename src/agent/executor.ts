/** What an executor is: something that starts and stops one instance's work. */
import type { WorkloadSpec } from "../gen/tessera/v1/types.js";

export interface StartRequest {
  instanceId: string;
  name: string;
  workload: string;
  generation: number;
  spec: WorkloadSpec;
}

export interface Exit {
  exitCode: number | null;
  signal: string | null;
}

/** A started instance. */
export interface Running {
  /** Resolves when the work ends, for whatever reason. */
  exited: Promise<Exit>;
  /** Asks it to end: SIGTERM (or equivalent), then kill after `gracePeriodMs`. Resolves on exit. */
  stop(gracePeriodMs: number): Promise<Exit>;
}

export interface Executor {
  /** "process", "docker" or "simulated". */
  readonly kind: string;
  /** Starts the work; rejects with a clear reason when it cannot. */
  start(req: StartRequest): Promise<Running>;
}

/** How an exit reads in a failure reason. */
export function describeExit(exit: Exit): string {
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exited with code ${exit.exitCode}`;
}
