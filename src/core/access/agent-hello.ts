/**
 * Whether an agent's hello may open its stream, judged on the hello alone, and what it says once
 * checked: its name, labels, executors, ports and host volumes valid, what it says of limits
 * bounded, the copies it holds in states the control plane knows. Pure. The shell checks the
 * caller's certificate and takes the session (gates.ts's sessionGate) after this
 * (agent-gateway.ts).
 */
import type { Command, HeldInstance } from "../decide/commands.js";
import type { Hello } from "../../gen/tessera/v1/agent_gateway.js";
import { nodePortsOf, validateNodePorts } from "../model/ports.js";
import { describeRejection } from "../model/rejections.js";
import { validateExecutors, validateLabels, validateName } from "../model/validate.js";
import { validateHostVolumes } from "../model/volumes.js";
import { instanceStateFromWire } from "../model/wire-enums.js";

/** How long what a hello says of limits may be (a reason such as "no cgroup v1 memory mount" is far shorter). */
export const MAX_LIMITS_TEXT = 1024;

/** What AgentConnected records of a hello (the shell adds the session). */
export type CheckedHello = Omit<Extract<Command, { type: "AgentConnected" }>, "type" | "session">;

/** The hello as AgentConnected records it, or why the stream is refused (INVALID_ARGUMENT), naming the field. */
export function checkHello(hello: Hello): { hello: CheckedHello } | { refusal: string } {
  const ports = nodePortsOf(hello);
  const volumes = hello.hostVolumes.map((v) => ({ name: v.name, path: v.path, readOnly: v.readOnly }));
  const problem =
    validateName(hello.node, "hello.node") ??
    validateLabels(hello.labels, "hello.labels")[0] ??
    validateExecutors(hello.executors, "hello.executors") ??
    validateNodePorts(ports) ??
    validateHostVolumes(volumes);
  if (problem) return { refusal: describeRejection(problem) };
  // Recorded in the node's NodeConnected event: bounded like any text an agent sends.
  if ((hello.limits?.enforcedBy.length ?? 0) > MAX_LIMITS_TEXT || (hello.limits?.notEnforcedReason.length ?? 0) > MAX_LIMITS_TEXT) {
    return { refusal: `hello.limits: expected enforced_by and not_enforced_reason of at most ${MAX_LIMITS_TEXT} characters` };
  }
  const instances: HeldInstance[] = [];
  for (const h of hello.instances) {
    const state = instanceStateFromWire(h.state);
    if (state === undefined) return { refusal: `hello.instances.state: expected a known InstanceState, got ${h.state}` };
    instances.push({ id: h.instanceId, generation: h.generation, state, reason: h.reason || undefined, exitCode: h.exitCode, stderrTail: h.stderrTail });
  }
  const capacity = { cpuMillis: hello.capacity?.cpuMillis ?? 0, memoryMb: hello.capacity?.memoryMb ?? 0 };
  return {
    hello: { node: hello.node, executors: hello.executors, version: hello.version, labels: hello.labels, capacity, ports, volumes, ...(hello.limits ? { limits: hello.limits } : {}), instances },
  };
}
