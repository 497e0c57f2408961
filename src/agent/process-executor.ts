/**
 * Runs workloads as local processes: Bun.spawn in their own process group, output appended to
 * a per-instance log file, stop = SIGTERM to the group, then SIGKILL after the grace period.
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Executor, type Exit, type LogRequest, type Running, type StartRequest, splitLines } from "./executor.js";

/** Lines per LogChunk message. */
const LOG_CHUNK_LINES = 500;
/** How often a followed log file is checked for growth. */
const LOG_POLL_MS = 200;

export class ProcessExecutor implements Executor {
  readonly kind = "process";
  private readonly logDir: string;

  constructor(dataDir: string) {
    this.logDir = join(dataDir, "logs");
    mkdirSync(this.logDir, { recursive: true });
  }

  private logPath(instanceId: string): string {
    return join(this.logDir, `${instanceId}.log`);
  }

  async readLogs(req: LogRequest): Promise<void> {
    const path = this.logPath(req.instanceId);
    if (!existsSync(path)) throw new Error(`no output recorded for ${req.instanceId} on this node`);
    let offset = statSync(path).size;
    const all = splitLines("", await Bun.file(path).slice(0, offset).text());
    let carry = all.rest;
    const first = req.tail > 0 ? all.lines.slice(-req.tail) : all.lines;
    for (let k = 0; k < first.length; k += LOG_CHUNK_LINES) req.emit(first.slice(k, k + LOG_CHUNK_LINES));
    while (req.follow && !req.signal.aborted) {
      await Bun.sleep(LOG_POLL_MS);
      if (!existsSync(path)) return;
      const size = statSync(path).size;
      if (size < offset) offset = 0; // truncated or rotated: start over
      if (size === offset) continue;
      const next = splitLines(carry, await Bun.file(path).slice(offset, size).text());
      offset = size;
      carry = next.rest;
      for (let k = 0; k < next.lines.length; k += LOG_CHUNK_LINES) req.emit(next.lines.slice(k, k + LOG_CHUNK_LINES));
    }
  }

  async start(req: StartRequest): Promise<Running> {
    const spec = req.spec;
    const log = Bun.file(this.logPath(req.instanceId));
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
