/**
 * The commands `tessera ctl exec` runs on this node, by the id of the ExecCommand that started
 * each: their output goes up as ExecOutputs, their input and signals come down as ExecInputs.
 * They belong to the stream that asked for them: when it goes, they are killed. Shell.
 */
import { constants } from "node:os";
import { isExecSignal } from "../core/decide/exec.js";
import type { Logger } from "../shell/logger.js";
import type { ExecCommand, ExecInput, ExecOutput } from "../gen/tessera/v1/agent_gateway.js";
import type { ExecProcess, Executor, Exit } from "./executor.js";

/** An exec whose process is starting: what came for it meanwhile, applied once it runs. */
interface Starting {
  pending: ExecInput[];
  killed: boolean;
}

const EMPTY = Buffer.alloc(0);

/** The exit code a shell reports: the process's own, or 128 + the signal's number. */
export function shellExitCode(exit: Exit): number {
  if (exit.exitCode !== null) return exit.exitCode;
  const number = exit.signal === null ? undefined : constants.signals[exit.signal as NodeJS.Signals];
  return 128 + (number ?? 0);
}

export class ExecSessions {
  private readonly running = new Map<number, ExecProcess | Starting>();

  constructor(
    private readonly executor: Executor,
    private readonly log: Logger,
    private readonly send: (out: ExecOutput) => void,
  ) {}

  async start(commandId: number, cmd: ExecCommand): Promise<void> {
    if (this.running.has(commandId)) return;
    const starting: Starting = { pending: [], killed: false };
    this.running.set(commandId, starting);
    const output = (stream: "stdout" | "stderr", data: Uint8Array) => {
      const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      this.send({ commandId, stdout: stream === "stdout" ? bytes : EMPTY, stderr: stream === "stderr" ? bytes : EMPTY, exited: false, exitCode: 0, signal: "", error: "" });
    };
    try {
      const proc = await this.executor.exec({ instanceId: cmd.instanceId, command: cmd.command, stdin: cmd.stdin, output });
      this.running.set(commandId, proc);
      for (const input of starting.pending) deliver(proc, input);
      if (starting.killed) proc.signal("SIGKILL");
      const exit = await proc.exited;
      this.log.info("exec ended", { instance: cmd.instanceId, command: cmd.command[0], exitCode: shellExitCode(exit) });
      this.send({ commandId, stdout: EMPTY, stderr: EMPTY, exited: true, exitCode: shellExitCode(exit), signal: exit.signal ?? "", error: "" });
    } catch (err) {
      this.send({ commandId, stdout: EMPTY, stderr: EMPTY, exited: true, exitCode: 0, signal: "", error: (err as Error).message });
    } finally {
      this.running.delete(commandId);
    }
  }

  input(msg: ExecInput): void {
    const session = this.running.get(msg.commandId);
    if (session === undefined) return;
    if ("pending" in session) session.pending.push(msg);
    else deliver(session, msg);
  }

  /** Kills every command: whoever asked for them is gone with the stream. */
  killAll(): void {
    for (const session of this.running.values()) {
      if ("pending" in session) session.killed = true;
      else session.signal("SIGKILL");
    }
  }
}

function deliver(proc: ExecProcess, msg: ExecInput): void {
  if (msg.stdin.length > 0) proc.write(msg.stdin);
  if (msg.stdinEof) proc.endInput();
  // The control plane lets only these through; a newer one's other signal is not delivered.
  if (isExecSignal(msg.signal)) proc.signal(msg.signal);
}
