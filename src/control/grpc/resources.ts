/**
 * What the ControlPlane's handlers by resource (workloads, nodes, rollouts) share: looking a
 * workload or node up in the writer's view (or refusing, naming it), having the writer decide a
 * command (or refusing with the core's rejection), and rendering records for the wire. `act` puts
 * the three together for a handler that changes something. Nothing here decides.
 */
import type { Metadata } from "@grpc/grpc-js";
import type { ControlPlaneMethod } from "../../core/access/authz.js";
import type { Command } from "../../core/decide/commands.js";
import type { Decision } from "../../core/decide/decision.js";
import { type ClusterView, type Instance, instancesOfWorkload, type NodeRecord, type Workload } from "../../core/model/cluster-state.js";
import { validateName } from "../../core/model/validate.js";
import { compareKeys, newestWithin, type SortKey } from "../../core/views/paging.js";
import { Event as WireEvent, type Instance as WireInstance, type Node as WireNode, type Workload as WireWorkload } from "../../gen/tessera/v1/types.js";
import type { StoredEvent } from "../store/rows.js";
import type { CommandPort } from "../writer/writer.js";
import type { AgentGateway } from "./agent-gateway.js";
import { refused, type Handler, type Rpc } from "./rpc.js";
import { toWireEvent, toWireInstance, toWireNode, toWireWorkload } from "./wire.js";

/** Instances sort by workload, then replica index, then id (attempts of one replica). */
export const instanceKey = (i: Instance): SortKey => [i.workload, i.index, i.id];
export const nameKey = (x: { name: string }): SortKey => [x.name];
export const eventBytes = (e: WireEvent) => WireEvent.encode(e).finish().length;

export function byName(a: Instance, b: Instance): number {
  return compareKeys(instanceKey(a), instanceKey(b));
}

export interface Resources {
  state: ClusterView;
  /** The agents' streams: the leader's; none on a standby. */
  gateway: AgentGateway | undefined;
  /** Refuses what is not a name, naming `field`. */
  mustName(name: string, field?: string): void;
  workloadNamed(name: string, field?: string): Workload;
  nodeNamed(name: string, field?: string): NodeRecord;
  /** A workload's instances, by name. */
  instancesOf(workload: string): Instance[];
  /** The writer's decision on `command`, committed; a rejection is thrown as its refusal. */
  submit(command: Command): Promise<Decision>;
  /** The workload of that name as it is now, with its status. */
  wireWorkload(w: Workload): WireWorkload;
  /** The node of that name as it is now, with what runs on it and (on the leader) what it uses. */
  wireNode(name: string): WireNode;
  wireInstance(i: Instance): WireInstance;
  /** The newest of a workload's or node's recent events that fit a page, oldest first. */
  recent(events: StoredEvent[]): WireEvent[];
}

export function createResources(writer: CommandPort, gateway: AgentGateway | undefined): Resources {
  const state = writer.view;
  const mustName = (name: string, field = "name") => {
    const problem = validateName(name, field);
    if (problem) throw refused(problem);
  };
  const instancesOf = (workload: string): Instance[] => instancesOfWorkload(state, workload).sort(byName);
  // Heartbeats arrive on the agents' streams, which only the leader holds (its gateway).
  const heard = gateway !== undefined;
  return {
    state,
    gateway,
    mustName,
    workloadNamed: (name, field = "name") => {
      mustName(name, field);
      const w = state.workloads.get(name);
      if (!w) throw refused({ kind: "UnknownWorkload", name });
      return w;
    },
    nodeNamed: (name, field = "name") => {
      mustName(name, field);
      const n = state.nodes.get(name);
      if (!n) throw refused({ kind: "UnknownNode", name });
      return n;
    },
    instancesOf,
    submit: async (command) => {
      const decision = await writer.submit(command);
      if (decision.rejection) throw refused(decision.rejection);
      return decision;
    },
    wireWorkload: (w) => toWireWorkload(state, w, instancesOf(w.name)),
    wireNode: (name) => toWireNode(state, state.nodes.get(name)!, heard, gateway?.usage.totals(state).nodes.get(name)),
    wireInstance: (i) => toWireInstance(i, state.nodes, gateway?.usage.ofInstance(i)),
    recent: (events) => newestWithin(events.map(toWireEvent), eventBytes),
  };
}

/** A change, in three steps: look up what it names (refusing what is not there), have the writer decide it, render the result. */
export interface Action<Req, Res> {
  lookUp(req: Req): void;
  command(req: Req, metadata: Metadata): Command | Promise<Command>;
  /** After the decision committed: what the answer says. */
  render(req: Req, decision: Decision): Res;
}

export function act<Req, Res>(rpc: Rpc, r: Resources, method: ControlPlaneMethod, action: Action<Req, Res>): Handler<Req, Res> {
  return rpc.unary(method, async (req: Req, metadata) => {
    action.lookUp(req);
    const decision = await r.submit(await action.command(req, metadata));
    return action.render(req, decision);
  });
}
