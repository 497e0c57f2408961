/**
 * What `exec` decides: whether a command may be run, in which copy, which signals a caller
 * may send it, and the record that someone ran one (RecordExec). PURE. The shells carry the
 * bytes (src/control/grpc/exec-service.ts, src/agent/exec-sessions.ts).
 */
import { type ClusterView, type Instance, instanceSeq, instancesOfWorkload } from "../model/cluster-state.js";
import type { Rejection } from "../model/rejections.js";
import { accept, type Deciders, refuse } from "./decision.js";

/** Arguments of one exec, bytes in all; the command is recorded in the event log. */
export const MAX_EXEC_COMMAND_BYTES = 16 * 1024;
const MAX_EXEC_ARGS = 256;

/** Signals a caller may send to an exec'd command (Ctrl-C is SIGINT; SIGKILL ends it for good). */
export const EXEC_SIGNALS = ["SIGINT", "SIGTERM", "SIGKILL", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const;
export type ExecSignal = (typeof EXEC_SIGNALS)[number];

export function isExecSignal(name: string): name is ExecSignal {
  return (EXEC_SIGNALS as readonly string[]).includes(name);
}

/** Refuses a command no executor could run: none, an empty program, a NUL (execve cannot pass it), or too much to record. */
export function validateExecCommand(command: string[], field: string): Rejection | undefined {
  if (command.length === 0 || command[0] === "") return { kind: "InvalidArgument", field, expected: "a command to run (after `--`), e.g. [\"sh\", \"-c\", \"env\"]" };
  if (command.length > MAX_EXEC_ARGS) return { kind: "InvalidArgument", field, expected: `at most ${MAX_EXEC_ARGS} arguments, got ${command.length}` };
  const bad = command.findIndex((a) => a.includes("\0"));
  if (bad >= 0) return { kind: "InvalidArgument", field: `${field}[${bad}]`, expected: "an argument without NUL bytes" };
  const bytes = command.reduce((n, a) => n + Buffer.byteLength(a), 0);
  if (bytes > MAX_EXEC_COMMAND_BYTES) return { kind: "InvalidArgument", field, expected: `at most ${MAX_EXEC_COMMAND_BYTES} bytes of arguments, got ${bytes}` };
  return undefined;
}

/**
 * The copy an exec runs in: the one named (by name, the newest attempt of that slot; or by id),
 * else the first running copy by name. It must run on a node and be wanted there.
 */
export function execTarget(state: ClusterView, workload: string, instance: string): Instance | Rejection {
  if (!state.workloads.has(workload)) return { kind: "UnknownWorkload", name: workload };
  const copies = instancesOfWorkload(state, workload).sort((a, b) => a.index - b.index || instanceSeq(b.id) - instanceSeq(a.id));
  const running = (i: Instance) => i.state === "running" && i.desired === "run" && i.node !== null;
  if (instance === "") return copies.find(running) ?? { kind: "NotRunning", workload };
  const named = copies.filter((i) => i.id === instance || i.name === instance);
  if (named.length === 0) return { kind: "UnknownInstance", id: instance };
  const target = named.find(running) ?? named[0]!;
  return running(target) ? target : { kind: "NotRunning", workload, id: target.id, state: target.state };
}

export const execDeciders = {
  RecordExec(state, c, now) {
    const bad = validateExecCommand(c.command, "start.command");
    if (bad) return refuse(bad);
    const target = execTarget(state, c.workload, c.instance);
    if ("kind" in target) return refuse(target);
    return accept([{ type: "InstanceExecStarted", at: now, id: target.id, node: target.node!, command: c.command, by: c.by }]);
  },
} satisfies Partial<Deciders>;
