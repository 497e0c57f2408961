/**
 * What asks an agent for output through the gateway: a log stream or an exec, each answered
 * on the agent's stream by the command's id, and the handle an exec's caller talks to it by.
 */
export interface LogSubscription {
  node: string;
  onLines(lines: string[]): void;
  /** Called once: when the agent is done, failed, or went away. */
  onEnd(error?: string): void;
}

/** How an exec'd command ended, or why it could not run (`nodeGone`: its node's stream is not there). */
export type ExecEnd = { exitCode: number; signal: string } | { error: string; nodeGone: boolean };

export interface ExecSubscription {
  node: string;
  onOutput(stdout: Buffer, stderr: Buffer): void;
  /** Called once: when the command ended, could not run, or its node went away. */
  onEnd(end: ExecEnd): void;
}

/** Talks to a running exec: its stdin, the end of it, a signal. */
export interface ExecHandle {
  input(input: { stdin?: Buffer; stdinEof?: boolean; signal?: string }): void;
  /** The caller went away: the command is killed and nothing more is passed on. */
  cancel(): void;
}
