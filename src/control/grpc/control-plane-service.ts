/**
 * gRPC handlers of the ControlPlane service. They validate, submit commands to the writer and
 * await the committed decision; reads come from the writer's in-memory view between turns.
 * Nothing here decides: Plan runs the core on a copy of the state. On a standby the same
 * handlers read its follower's state, and `submit` refuses (server.ts); with no agent streams
 * there, Logs and Exec are left out.
 */
import { status } from "@grpc/grpc-js";
import type { ApplyOutcome as CoreApplyOutcome } from "../../core/decide/decision.js";
import type { Command } from "../../core/decide/commands.js";
import { forkState, type Instance, instancesOfWorkload } from "../../core/model/cluster-state.js";
import { nodeUse } from "../../core/model/cluster-status.js";
import { compareKeys, newestWithin, type SortKey, takePage } from "../../core/views/paging.js";
import { renderPlanJsonl } from "../../core/reconcile/plan-render.js";
import { isEmptyPlan, type Policy, summarize } from "../../core/reconcile/reconcile.js";
import { runTurn } from "../../core/reconcile/turn.js";
import { validateName } from "../../core/model/validate.js";
import type { ControlPlaneRow } from "../../core/ha/lease.js";
import { ApplyOutcome, type ControlPlaneServer, ControlPlaneRole, TokenKind } from "../../gen/tessera/v1/control_plane.js";
import { Event as WireEvent, Instance as WireInstance, Node as WireNode, Workload as WireWorkload } from "../../gen/tessera/v1/types.js";
import type { AgentGateway } from "./agent-gateway.js";
import type { Tokens } from "../security/tokens.js";
import { createEndpointsHandlers } from "./endpoints-service.js";
import type { EndpointsHub } from "../writer/endpoints-hub.js";
import { createExecHandler } from "./exec-service.js";
import { createLogsHandler } from "./logs-service.js";
import { createIdentityHandlers } from "./identity-service.js";
import { caller, createRpc, cursorOf, invalid, refused, type RpcDeps } from "./rpc.js";
import type { EventHistory } from "../store/store.js";
import type { StoredEvent } from "../store/rows.js";
import type { WatchHub } from "../writer/watch-hub.js";
import { createWatchHandler } from "./watch-service.js";
import { createSnapshotHandler } from "./snapshot-service.js";
import { toWireEvent, toWireInstance, toWireNode, toWireWorkload } from "./wire.js";
import type { CommandPort } from "../writer/writer.js";

/** How many recent events GetWorkload and GetNode return (fewer when more would not fit a page). */
const RECENT_EVENTS = 20;

export interface ServiceDeps extends RpcDeps {
  writer: CommandPort;
  history: EventHistory;
  /** The agents' streams; none on a standby (Logs and Exec need them: they go to the leader). */
  gateway?: AgentGateway;
  hub: WatchHub;
  endpoints: EndpointsHub;
  policy: Policy;
  /** Mints, lists and revokes tokens (identity-service.ts); absent when security is off. */
  tokens?: Tokens;
  /** Takes a snapshot of the store (SaveSnapshot); none on PostgreSQL and on a standby. */
  snapshot?: () => Promise<{ header: Uint8Array; parts: Uint8Array[] }>;
  /** The control planes on this one's database (ListControlPlanes). */
  controlPlanes: () => Promise<ControlPlaneRow[]>;
}

const APPLY_OUTCOME_TO_WIRE = {
  created: ApplyOutcome.APPLY_OUTCOME_CREATED,
  configured: ApplyOutcome.APPLY_OUTCOME_CONFIGURED,
  relabeled: ApplyOutcome.APPLY_OUTCOME_RELABELED,
  unchanged: ApplyOutcome.APPLY_OUTCOME_UNCHANGED,
} as const satisfies { [O in CoreApplyOutcome]: ApplyOutcome };
const WIRE_ROLES = { leader: ControlPlaneRole.CONTROL_PLANE_ROLE_LEADER, standby: ControlPlaneRole.CONTROL_PLANE_ROLE_STANDBY, gone: ControlPlaneRole.CONTROL_PLANE_ROLE_GONE } as const;

/** Instances sort by workload, then replica index, then id (attempts of one replica). */
const instanceKey = (i: Instance): SortKey => [i.workload, i.index, i.id];
const nameKey = (x: { name: string }): SortKey => [x.name];
const seqKey = (e: { seq: number }): SortKey => [e.seq];

function byName(a: Instance, b: Instance): number {
  return compareKeys(instanceKey(a), instanceKey(b));
}

/** Encoded sizes, to cut pages well under the message limit. */
const workloadBytes = (w: WireWorkload) => WireWorkload.encode(w).finish().length;
const instanceBytes = (i: WireInstance) => WireInstance.encode(i).finish().length;
const nodeBytes = (n: WireNode) => WireNode.encode(n).finish().length;
const eventBytes = (e: WireEvent) => WireEvent.encode(e).finish().length;

/** Every handler; Logs and Exec only with the agents' streams. */
export type ControlPlaneHandlers = { [M in keyof ControlPlaneServer as M extends "logs" | "exec" ? never : M]: ControlPlaneServer[M] } & Partial<Pick<ControlPlaneServer, "logs" | "exec">>;

export function createControlPlaneService(deps: ServiceDeps): ControlPlaneHandlers {
  const { writer, history, gateway, hub, policy, log } = deps;
  const state = writer.view;
  const instancesOf = (workload: string): Instance[] => instancesOfWorkload(state, workload).sort(byName);

  const rpc = createRpc(deps);
  const { unary } = rpc;

  const mustName = (name: string, field = "name") => {
    const problem = validateName(name, field);
    if (problem) throw refused(problem);
  };
  const workloadNamed = (name: string, field = "name") => {
    mustName(name, field);
    const w = state.workloads.get(name);
    if (!w) throw refused({ kind: "UnknownWorkload", name });
    return w;
  };
  const nodeNamed = (name: string, field = "name") => {
    mustName(name, field);
    const n = state.nodes.get(name);
    if (!n) throw refused({ kind: "UnknownNode", name });
    return n;
  };
  /** The newest of a workload's or node's recent events that fit a page, oldest first. */
  const recent = (events: StoredEvent[]) => newestWithin(events.map(toWireEvent), eventBytes);
  // Heartbeats arrive on the agents' streams, which only the leader holds (its gateway).
  const heard = gateway !== undefined;
  const wireNode = (name: string) => toWireNode(state.nodes.get(name)!, nodeUse(state).get(name), heard, gateway?.usage.totals(state).nodes.get(name));
  const submit = async (command: Command) => {
    const decision = await writer.submit(command);
    if (decision.rejection) throw refused(decision.rejection);
    return decision;
  };
  const workloadInput = (w: WireWorkload | undefined, force?: boolean): Extract<Command, { type: "ApplyWorkload" }> => {
    if (!w) throw invalid("workload", "a Workload message");
    return { type: "ApplyWorkload", name: w.name, labels: w.labels, spec: w.spec, force };
  };

  return {
    ...createEndpointsHandlers(rpc, writer, deps.endpoints),
    ...createIdentityHandlers(rpc, writer, deps.tokens),
    watch: createWatchHandler(rpc, hub, history),
    saveSnapshot: createSnapshotHandler(rpc, deps.snapshot),
    ...(gateway ? { exec: createExecHandler(rpc, writer, gateway), logs: createLogsHandler(rpc, { state, history, gateway, log, workloadNamed, instancesOf }) } : {}),

    applyWorkload: unary("ApplyWorkload", async (req) => {
      const command = workloadInput(req.workload, req.force);
      const decision = await submit(command);
      const stored = state.workloads.get(command.name)!;
      return { workload: toWireWorkload(state, stored, instancesOf(command.name)), changed: decision.applied !== "unchanged" };
    }),

    applyWorkloads: unary("ApplyWorkloads", async (req) => {
      const workloads = req.workloads.map((w) => {
        const { name, labels, spec } = workloadInput(w);
        return { name, labels, spec };
      });
      const decision = await submit({ type: "ApplyWorkloads", workloads, force: req.force });
      return {
        applied: workloads.map((w, i) => {
          const outcome = decision.appliedEach![i]!;
          return { name: w.name, generation: state.workloads.get(w.name)!.generation, changed: outcome !== "unchanged", outcome: APPLY_OUTCOME_TO_WIRE[outcome] };
        }),
      };
    }),

    getWorkload: unary("GetWorkload", async (req) => {
      const w = workloadNamed(req.name);
      const instances = instancesOf(w.name);
      const found = { workload: toWireWorkload(state, w, instances), instances: instances.map((i) => toWireInstance(i, state.nodes, gateway?.usage.ofInstance(i))) };
      return { ...found, events: recent(await history.recentEvents(w.name, RECENT_EVENTS)) };
    }),

    listWorkloads: unary("ListWorkloads", (req) => {
      const cursor = cursorOf(req, "workloads");
      const byWorkload = new Map<string, Instance[]>();
      for (const i of state.instances.values()) {
        const list = byWorkload.get(i.workload);
        if (list) list.push(i);
        else byWorkload.set(i.workload, [i]);
      }
      const page = takePage(state.workloads.values(), cursor, "workloads", {
        keyOf: nameKey,
        render: (w) => toWireWorkload(state, w, byWorkload.get(w.name) ?? []),
        sizeOf: workloadBytes,
      });
      return { workloads: page.items, nextPageToken: page.nextPageToken };
    }),

    deleteWorkload: unary("DeleteWorkload", async (req) => {
      mustName(req.name);
      await submit({ type: "DeleteWorkload", name: req.name });
      const w = state.workloads.get(req.name);
      // Deleting a workload with no instances removes it within the same turn.
      return { workload: w ? toWireWorkload(state, w, instancesOf(w.name)) : undefined };
    }),

    listNodes: unary("ListNodes", (req) => {
      const cursor = cursorOf(req, "nodes");
      const use = nodeUse(state);
      const used = gateway?.usage.totals(state).nodes;
      const page = takePage(state.nodes.values(), cursor, "nodes", { keyOf: nameKey, render: (n) => toWireNode(n, use.get(n.name), heard, used?.get(n.name)), sizeOf: nodeBytes });
      return { nodes: page.items, nextPageToken: page.nextPageToken };
    }),

    getNode: unary("GetNode", async (req) => {
      const n = nodeNamed(req.name);
      const instances = [...state.instances.values()].filter((i) => i.node === n.name).sort(byName);
      const found = { node: wireNode(n.name), instances: instances.map((i) => toWireInstance(i, state.nodes, gateway?.usage.ofInstance(i))) };
      return { ...found, events: recent(await history.recentNodeEvents(n.name, RECENT_EVENTS)) };
    }),

    listInstances: unary("ListInstances", (req) => {
      if (req.workload !== "") workloadNamed(req.workload, "workload");
      const scope = `instances:${req.workload}`;
      const cursor = cursorOf(req, scope);
      const of = req.workload === "" ? [...state.instances.values()] : instancesOfWorkload(state, req.workload);
      const page = takePage(of, cursor, scope, { keyOf: instanceKey, render: (i) => toWireInstance(i, state.nodes, gateway?.usage.ofInstance(i)), sizeOf: instanceBytes });
      return { instances: page.items, nextPageToken: page.nextPageToken };
    }),

    cordonNode: unary("CordonNode", async (req) => {
      nodeNamed(req.name);
      await submit({ type: "CordonNode", node: req.name });
      return { node: wireNode(req.name) };
    }),

    uncordonNode: unary("UncordonNode", async (req) => {
      nodeNamed(req.name);
      await submit({ type: "UncordonNode", node: req.name });
      return { node: wireNode(req.name) };
    }),

    drainNode: unary("DrainNode", async (req) => {
      nodeNamed(req.name);
      await submit({ type: "DrainNode", node: req.name });
      return { node: wireNode(req.name) };
    }),

    restartWorkload: unary("RestartWorkload", async (req) => {
      workloadNamed(req.name);
      await submit({ type: "RestartWorkload", name: req.name });
      const w = state.workloads.get(req.name)!;
      return { workload: toWireWorkload(state, w, instancesOf(w.name)) };
    }),

    rollbackWorkload: unary("RollbackWorkload", async (req) => {
      workloadNamed(req.name);
      if (req.toRevision > 0) {
        // A revision is a generation of this workload (not of a deleted one of its name); the log keeps its spec.
        const spec = await history.revisionSpec(req.name, req.toRevision);
        if (spec === undefined) throw refused({ kind: "UnknownRevision", name: req.name, revision: req.toRevision });
        await submit({ type: "RollbackWorkload", name: req.name, to: { revision: req.toRevision, spec } });
      } else await submit({ type: "RollbackWorkload", name: req.name });
      const w = state.workloads.get(req.name)!;
      return { workload: toWireWorkload(state, w, instancesOf(w.name)) };
    }),

    pauseRollout: unary("PauseRollout", async (req, metadata) => {
      workloadNamed(req.name);
      await submit({ type: "PauseRollout", name: req.name, paused: req.paused, by: caller(metadata) });
      const w = state.workloads.get(req.name)!;
      return { workload: toWireWorkload(state, w, instancesOf(w.name)) };
    }),

    liftQuarantine: unary("LiftQuarantine", async (req, metadata) => {
      workloadNamed(req.name);
      if (req.node !== "") nodeNamed(req.node, "node");
      await submit({ type: "LiftQuarantine", name: req.name, ...(req.node !== "" ? { node: req.node } : {}), by: caller(metadata) });
      const w = state.workloads.get(req.name)!;
      return { workload: toWireWorkload(state, w, instancesOf(w.name)) };
    }),

    promoteRollout: unary("PromoteRollout", async (req, metadata) => {
      workloadNamed(req.name);
      await submit({ type: "PromoteRollout", name: req.name, by: caller(metadata) });
      const w = state.workloads.get(req.name)!;
      return { workload: toWireWorkload(state, w, instancesOf(w.name)) };
    }),

    plan: unary("Plan", (req) => {
      const command = workloadInput(req.workload);
      // The core runs on a copy: what it decides is shown, nothing is committed.
      const copy = forkState(state);
      const turn = runTurn(copy, [command], { now: Date.now(), policy, reconcile: true });
      const decision = turn.decisions[0]!;
      if (decision.rejection) throw refused(decision.rejection);
      const p = turn.plan;
      const applied = copy.workloads.get(command.name)!;
      return {
        changed: decision.applied !== "unchanged",
        generation: applied.generation,
        summary: p ? summarize(p) : "converged",
        actions: p && !isEmptyPlan(p) ? renderPlanJsonl(p) : [],
      };
    }),

    listControlPlanes: unary("ListControlPlanes", async () => ({
      controlPlanes: (await deps.controlPlanes()).map((r) => ({
        id: r.id,
        address: r.address,
        role: WIRE_ROLES[r.role],
        epoch: r.epoch,
        lastRenewal: r.lastRenewal > 0 ? new Date(r.lastRenewal) : undefined,
        behind: r.behind,
      })),
    })),

    getHistory: unary("GetHistory", async (req) => {
      mustName(req.workload, "workload");
      // The limit is part of the request a token belongs to: the window of the last `limit`
      // events is fixed by the first page, later pages continue it.
      const scope = `history:${req.workload}:${req.limit}`;
      const cursor = cursorOf(req, scope);
      const left = req.limit > 0 ? req.limit - cursor.returned : Infinity;
      const after = cursor.after ? Number(cursor.after[0]) : await history.historyStart(req.workload, req.limit);
      // One event more than the page holds tells whether there is a next page.
      const rows = await history.eventsAfter(after, Math.min(cursor.size + 1, left), req.workload);
      const page = takePage(rows, { ...cursor, size: Math.min(cursor.size, left) }, scope, { keyOf: seqKey, render: toWireEvent, sizeOf: eventBytes });
      return { events: page.items, nextPageToken: page.nextPageToken };
    }),

  };

}

