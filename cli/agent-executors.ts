/**
 * The executors an agent runs copies with, from `--executor` (and `tessera dev`'s fixed
 * choice): process, docker, or both; or simulated. Docker's modules are imported only when it
 * is chosen (dockerode brings the largest module graph in the binary).
 */
import { join } from "node:path";
import { UsageError } from "clipanion";
import type { Executor } from "../src/agent/executor.js";
import { MultiExecutor } from "../src/agent/multi-executor.js";
import { ProcessExecutor } from "../src/agent/process-executor.js";
import { type SimulatedOptions, SimulatedExecutor } from "../src/agent/simulated-executor.js";
import type { NodeLimits } from "../src/gen/tessera/v1/types.js";
import type { Logger } from "../src/shell/logger.js";
import { type LimitFlags, processLimits } from "./agent-limits.js";
import { AGENT_FLAGS } from "./server-flags.js";

/** What a process executor is given: what passes from the agent's environment, how copies are limited. */
export interface ProcessFlags {
  passEnv: string[];
  limits: LimitFlags;
}

export const DEFAULT_PROCESS_FLAGS: ProcessFlags = { passEnv: [], limits: { cgroups: AGENT_FLAGS.cgroups.default, pidsLimit: undefined, allowUnenforced: false } };

/**
 * Executors from `--executor process,docker` (simulated stands alone), and with a process
 * executor, whether it enforces limits (what the hello says; unset without one).
 */
export async function makeExecutor(kinds: string, node: string, dataDir: string, log: Logger, simulated: SimulatedOptions = {}, proc = DEFAULT_PROCESS_FLAGS): Promise<{ executor: Executor; limits?: NodeLimits }> {
  const list = kinds.split(",").map((k) => k.trim());
  const executors: Executor[] = [];
  let limits: NodeLimits | undefined;
  for (const kind of list) {
    switch (kind) {
      case "process": {
        const held = processLimits(proc.limits, node, dataDir, log);
        limits = held.limits;
        executors.push(new ProcessExecutor(join(dataDir, "agent"), node, { passEnv: proc.passEnv, cgroups: held.cgroups, pidsMax: held.pidsMax }));
        break;
      }
      case "docker": {
        const { DockerExecutor } = await import("../src/agent/docker-executor.js");
        const docker = new DockerExecutor(node, join(dataDir, "agent"));
        await docker.ping().catch((err: Error) => {
          throw new UsageError(`--executor docker: ${err.message}`);
        });
        executors.push(docker);
        break;
      }
      case "simulated":
        if (list.length > 1) throw new UsageError("--executor: simulated cannot be combined with real executors");
        executors.push(new SimulatedExecutor(simulated));
        break;
      default:
        throw new UsageError(`--executor: expected process, docker or simulated (comma-separated), got "${kind}"`);
    }
  }
  return { executor: new MultiExecutor(executors), limits };
}
