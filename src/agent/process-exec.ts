/**
 * `ctl exec` for process copies: the command runs as a child of the agent, in the copy's
 * environment and working directory (read from its shim by the caller), its output piped back
 * and its stdin fed from the session. Shell, for process-executor.ts.
 */
import type { ExecProcess, ExecRequest, Exit } from "./executor.js";
import { signalGroup } from "./shim.js";

/**
 * Runs an exec'd command as the leader of its own process group, so a signal reaches what it
 * starts too. A program that cannot be started reads as a shell reports it: a line on stderr
 * and exit code 127.
 */
export function spawnExec(req: ExecRequest, env: { [name: string]: string }, cwd: string): ExecProcess {
  let proc: Bun.Subprocess<"pipe", "pipe", "pipe">;
  try {
    proc = Bun.spawn(req.command, { cwd, env, stdin: "pipe", stdout: "pipe", stderr: "pipe", detached: true });
  } catch (err) {
    req.output("stderr", Buffer.from(`tessera: cannot run ${req.command[0]}: ${(err as Error).message}\n`));
    return { exited: Promise.resolve({ exitCode: 127, signal: null }), write() {}, endInput() {}, signal() {} };
  }
  const stdin = proc.stdin;
  if (!req.stdin) stdin.end();
  const pump = async (stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr") => {
    for await (const chunk of stream) req.output(name, chunk);
  };
  const exited = Promise.all([proc.exited, pump(proc.stdout, "stdout"), pump(proc.stderr, "stderr")]).then(
    (): Exit => {
      const signal = proc.signalCode;
      return signal ? { exitCode: null, signal: String(signal) } : { exitCode: proc.exitCode, signal: null };
    },
  );
  const ignoreEnded = (f: () => unknown) => {
    try {
      f();
    } catch {
      // The command already ended (or closed its stdin).
    }
  };
  return {
    exited,
    write: (data) => ignoreEnded(() => (stdin.write(data), stdin.flush())),
    endInput: () => ignoreEnded(() => stdin.end()),
    signal: (name) => signalGroup(proc.pid, name),
  };
}
