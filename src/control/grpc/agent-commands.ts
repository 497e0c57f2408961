/**
 * The ControlMessage that carries a start, a stop or a refresh of secrets to its node's agent:
 * stamped with the term of the leader sending it (for the agents' audit of one leader per
 * epoch), a start and a refresh with the values of the secrets and configs its copy uses (to
 * that node only, in that message).
 */
import type { Effect } from "../../core/model/effects.js";
import type { ControlMessage, DeliveredSet } from "../../gen/tessera/v1/agent_gateway.js";
import type { WorkloadSpec } from "../../gen/tessera/v1/types.js";

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
