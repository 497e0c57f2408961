/**
 * The ControlMessage that carries a start, a stop or a refresh of secrets to its node's agent:
 * stamped with the term of the leader sending it (for the agents' audit of one leader per
 * epoch), a start and a refresh with the values of the secrets and configs its copy uses (to
 * that node only, in that message); what carries a turn's commands to one node (carried); and
 * the writing of commands and endpoints to a node's stream (sendCommands, sendEndpoints).
 */
import type { Effect } from "../../core/model/effects.js";
import { MAX_MESSAGE_BYTES } from "../../core/views/paging.js";
import type { ServerDuplexStream } from "@grpc/grpc-js";
import type { EndpointsDiff } from "../../core/views/endpoint-table.js";
import type { AgentMessage, ControlMessage, DeliveredSet } from "../../gen/tessera/v1/agent_gateway.js";
import { WorkloadSpec } from "../../gen/tessera/v1/types.js";

/** A leader's term: its lease epoch and control plane id (0 and "" on SQLite). */
export interface LeaderTerm {
  epoch: number;
  leader: string;
}

/** What the gateway sends a start with: the values a spec's secrets and configs hold. */
export type Deliver = (spec: WorkloadSpec) => DeliveredSet[];

export function commandMessage(effect: Extract<Effect, { type: "StartInstance" | "StopInstance" | "RefreshSecrets" }>, commandId: number, term: LeaderTerm, deliver: Deliver): ControlMessage {
  if (effect.type === "RefreshSecrets") {
    const { instanceId, generation, spec, signal } = effect;
    return { commandId, ...term, command: { $case: "refreshSecrets", value: { instanceId, generation, delivered: deliver(spec), signal: signal ? "SIGHUP" : "" } } };
  }
  if (effect.type === "StopInstance") {
    return { commandId, ...term, command: { $case: "stop", value: { instanceId: effect.instanceId, gracePeriodMs: effect.gracePeriodMs, generation: effect.generation } } };
  }
  const { instanceId, name, workload, generation, spec, ports, hostIp } = effect;
  return { commandId, ...term, command: { $case: "start", value: { instanceId, name, workload, generation, spec, ports, hostIp, delivered: deliver(spec) } } };
}

/** What one ControlBatch carries at most, by the estimate below: a quarter of the message limit. */
export const BATCH_BYTES = MAX_MESSAGE_BYTES / 4;

/** Beyond its spec and values, what a command holds (ids, names, ports) is well under this. */
const COMMAND_BYTES = 4096;

/** Encoded sizes by spec object: a workload's copies share one (and a spec is never changed). */
const specBytes = new WeakMap<WorkloadSpec, number>();

/** A command's encoded size, from above: its spec's, its values', and COMMAND_BYTES. */
function estimate(m: ControlMessage): number {
  const c = m.command;
  if (c?.$case !== "start" && c?.$case !== "refreshSecrets") return COMMAND_BYTES;
  let bytes = COMMAND_BYTES;
  for (const set of c.value.delivered) for (const [key, value] of Object.entries(set.data)) bytes += key.length + value.length + 16;
  const spec = c.$case === "start" ? c.value.spec : undefined;
  if (spec === undefined) return bytes;
  let own = specBytes.get(spec);
  if (own === undefined) specBytes.set(spec, (own = WorkloadSpec.encode(spec).finish().length));
  return bytes + own;
}

/**
 * What carries a turn's commands to one node, in order: when its agent takes batches, several
 * as one ControlBatch, as many as fit in BATCH_BYTES (a copy's spec may be 256 KiB, its values
 * more), one alone as itself; else each alone.
 */
export function carried(messages: ControlMessage[], acceptsBatches: boolean): ControlMessage[] {
  if (!acceptsBatches || messages.length < 2) return messages;
  const out: ControlMessage[] = [];
  let group: ControlMessage[] = [];
  let bytes = 0;
  const close = () => {
    if (group.length > 0) out.push(group.length === 1 ? group[0]! : { commandId: 0, command: { $case: "batch", value: { messages: group } } });
    group = [];
    bytes = 0;
  };
  for (const m of messages) {
    const size = estimate(m);
    if (bytes + size > BATCH_BYTES) close();
    group.push(m);
    bytes += size;
  }
  close();
  return out;
}

/** A node's session: the stream of its agent's accepted hello. */
export interface AgentSession {
  id: number;
  stream: ServerDuplexStream<AgentMessage, ControlMessage>;
  /** When the agent last sent anything on it (Date.now()); a quiet stream may be taken over. */
  lastHeardAt: number;
  /** Its hello said it takes a ControlBatch: a turn's commands to it go as one message. */
  acceptsBatches: boolean;
  /** Written to since its agent's last heartbeat: the agent heard the stream alive (agent-gateway.ts answers beats). */
  spoke: boolean;
}

export function sendCommands(session: AgentSession, messages: ControlMessage[]): void {
  for (const m of carried(messages, session.acceptsBatches)) session.stream.write(m);
  if (messages.length > 0) session.spoke = true;
}

/** Endpoint updates are not acknowledged: the next hello's snapshot covers a lost one. */
export function sendEndpoints(session: AgentSession, diff: EndpointsDiff): void {
  session.stream.write({ commandId: 0, command: { $case: "endpoints", value: diff } });
  session.spoke = true;
}
