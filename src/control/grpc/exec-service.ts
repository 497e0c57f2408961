/**
 * The ControlPlane's Exec handler: checks the caller and the command, has the writer record
 * the exec (the core picks the copy and refuses one that does not run), then carries stdin and
 * signals down to the copy's agent and its output back. Nothing here decides.
 */
import { type ServerDuplexStream, status } from "@grpc/grpc-js";
import { EXEC_SIGNALS, isExecSignal } from "../../core/decide/exec.js";
import { validateName } from "../../core/model/validate.js";
import type { ExecRequest, ExecResponse, ExecStart } from "../../gen/tessera/v1/control_plane.js";
import type { ExecHandle } from "./agent-subscriptions.js";
import type { AgentGateway } from "./agent-gateway.js";
import { undecodable } from "./undecodable.js";
import { boundedWriter, caller, invalid, refused, type Rpc, type RpcError } from "./rpc.js";
import type { CommandPort } from "../writer/writer.js";

type Call = ServerDuplexStream<ExecRequest, ExecResponse>;
type Input = Parameters<ExecHandle["input"]>[0];

const NO_BYTES = Buffer.alloc(0);

/** What a request after the first asks for, or why it is refused. */
function inputOf(msg: ExecRequest, stdinWanted: boolean): Input | RpcError {
  const bad = undecodable(msg);
  if (bad !== undefined) return invalid("request", `a tessera.v1.ExecRequest (${bad})`);
  switch (msg.request?.$case) {
    case "stdin":
      return stdinWanted ? { stdin: msg.request.value } : invalid("stdin", "none: start.stdin was not set");
    case "stdinEof":
      return { stdinEof: msg.request.value };
    case "signal":
      return isExecSignal(msg.request.value) ? { signal: msg.request.value } : invalid("signal", `one of ${EXEC_SIGNALS.join(", ")}, got "${msg.request.value}"`);
    case "start":
      return invalid("start", "only in the first request");
    default:
      return invalid("request", "stdin, stdin_eof or signal");
  }
}

export function createExecHandler(rpc: Rpc, writer: CommandPort, gateway: AgentGateway): (call: Call) => void {
  return (call) => {
    const started = performance.now();
    if (!rpc.admitted(call, "Exec", started)) return;
    let ended = false;
    let handle: ExecHandle | undefined;
    /** Input that came while the exec was being recorded and started. */
    const early: Input[] = [];
    let stdinWanted = false;

    const fail = (err: RpcError) => {
      if (ended) return;
      ended = true;
      handle?.cancel();
      rpc.endWith(call, "Exec", started, err);
    };
    const bounded = boundedWriter<ExecResponse>(call);
    const write = (msg: ExecResponse) => {
      if (ended) return;
      const r = msg.response;
      if (!bounded(msg, r?.$case === "stdout" || r?.$case === "stderr" ? r.value.length : 0)) fail({ code: status.RESOURCE_EXHAUSTED, details: "the client reads the command's output too slowly; the command was killed" });
    };
    const forward = (input: Input) => (handle ? handle.input(input) : early.push(input));

    const begin = async (start: ExecStart) => {
      const problem = validateName(start.workload, "start.workload");
      if (problem) return fail(refused(problem));
      stdinWanted = start.stdin;
      const decision = await writer.submit({ type: "RecordExec", workload: start.workload, instance: start.instance, command: start.command, by: caller(call.metadata) });
      if (decision.rejection) return fail(refused(decision.rejection));
      const recorded = decision.events[0];
      if (recorded?.type !== "InstanceExecStarted") return fail({ code: status.INTERNAL, details: "the exec was not recorded" });
      if (ended) return;
      write({ response: { $case: "instance", value: recorded.id } });
      handle = gateway.openExec(recorded.node, recorded.id, start.command, start.stdin, {
        onOutput(stdout, stderr) {
          if (stdout.length > 0) write({ response: { $case: "stdout", value: stdout } });
          if (stderr.length > 0) write({ response: { $case: "stderr", value: stderr } });
        },
        onEnd(end) {
          if ("error" in end) return fail({ code: end.nodeGone ? status.UNAVAILABLE : status.FAILED_PRECONDITION, details: end.error });
          write({ response: { $case: "exit", value: { exitCode: end.exitCode, signal: end.signal } } });
          if (ended) return;
          ended = true;
          rpc.finish("Exec", started, status.OK);
          call.end();
        },
      });
      for (const input of early.splice(0)) handle.input(input);
    };

    let first = true;
    call.on("data", (msg: ExecRequest) => {
      if (ended) return;
      if (first) {
        first = false;
        const bad = undecodable(msg);
        if (bad !== undefined) return fail(invalid("request", `a tessera.v1.ExecRequest (${bad})`));
        if (msg.request?.$case !== "start") return fail(invalid("request", "an ExecStart first"));
        begin(msg.request.value).catch((err: Error) => fail({ code: status.UNAVAILABLE, details: err.message }));
        return;
      }
      const input = inputOf(msg, stdinWanted);
      if ("code" in input) return fail(input);
      forward(input);
    });
    // The client finished sending: its stdin, if any, ends.
    call.on("end", () => {
      if (first) return fail(invalid("request", "an ExecStart first"));
      if (stdinWanted) forward({ stdinEof: true });
    });
    call.on("cancelled", () => {
      if (ended) return;
      ended = true;
      handle?.cancel();
      rpc.finish("Exec", started, status.CANCELLED);
    });
  };
}
