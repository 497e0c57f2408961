/**
 * Runs workloads as local processes: Bun.spawn in their own process group, output appended to
 * a per-instance log file, stop = SIGTERM to the group, then SIGKILL after the grace period.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Executor, Exit, Running, StartRequest } from "./executor.js";

export class ProcessExecutor implements Executor {
  readonly kind = "process";
  private readonly logDir: string;

  constructor(dataDir: string) {
    this.logDir = join(dataDir, "logs");
    mkdirSync(this.logDir, { recursive: true });
  }

  async start(req: StartRequest): Promise<Running> {
    const spec = req.spec;
    const log = Bun.file(join(this.logDir, `${req.instanceId}.log`));
    let proc: ReturnType<typeof Bun.spawn>;
    try {
      proc = Bun.spawn([spec.command, ...spec.args], {
        cwd: spec.workingDir || undefined,
        env: { ...process.env, ...spec.env, TESSERA_INSTANCE: req.name, TESSERA_INSTANCE_ID: req.instanceId, TESSERA_WORKLOAD: req.workload },
        stdin: "ignore",
        stdout: log,
        stderr: log,
        detached: true,
      });
    } catch (err) {
      throw new Error(`cannot start ${spec.command}: ${(err as Error).message}`);
    }
    const exited: Promise<Exit> = proc.exited.then(() => ({ exitCode: proc.signalCode ? null : proc.exitCode, signal: proc.signalCode ? String(proc.signalCode) : null }));
    const pid = proc.pid;
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-pid, signal);
      } catch {
        // The group is already gone.
      }
    };
    return {
      exited,
      async stop(gracePeriodMs) {
        signalGroup("SIGTERM");
        const timer = setTimeout(() => signalGroup("SIGKILL"), gracePeriodMs);
        const exit = await exited;
        clearTimeout(timer);
        // Children that ignored SIGTERM die with the group.
        signalGroup("SIGKILL");
        return exit;
      },
    };
  }
}
