/**
 * The ControlPlane's workload handlers: apply (one or many), get, list, delete, their instances,
 * a plan of what an apply would do, and a workload's history. They validate and submit to the
 * writer, or read its view; Plan runs the core on a copy of the state. Nothing here decides.
 */
import type { ApplyOutcome as CoreApplyOutcome } from "../../core/decide/decision.js";
import type { Command } from "../../core/decide/commands.js";
import { forkState, type Instance, instancesOfWorkload } from "../../core/model/cluster-state.js";
import { type SortKey, takePage } from "../../core/views/paging.js";
import { renderPlanJsonl } from "../../core/reconcile/plan-render.js";
import { isEmptyPlan, type Policy, summarize } from "../../core/reconcile/reconcile.js";
import { runTurn } from "../../core/reconcile/turn.js";
import { ApplyOutcome, type ControlPlaneServer } from "../../gen/tessera/v1/control_plane.js";
import { Instance as WireInstance, Workload as WireWorkload } from "../../gen/tessera/v1/types.js";
import type { EventHistory } from "../store/store.js";
import { act, eventBytes, instanceKey, nameKey, type Resources } from "./resources.js";
import { cursorOf, invalid, refused, type Rpc } from "./rpc.js";
import { toWireEvent, toWireWorkload } from "./wire.js";

/** How many recent events GetWorkload and GetNode return (fewer when more would not fit a page). */
export const RECENT_EVENTS = 20;

const APPLY_OUTCOME_TO_WIRE = {
  created: ApplyOutcome.APPLY_OUTCOME_CREATED,
  configured: ApplyOutcome.APPLY_OUTCOME_CONFIGURED,
  relabeled: ApplyOutcome.APPLY_OUTCOME_RELABELED,
  unchanged: ApplyOutcome.APPLY_OUTCOME_UNCHANGED,
} as const satisfies { [O in CoreApplyOutcome]: ApplyOutcome };

const seqKey = (e: { seq: number }): SortKey => [e.seq];
/** Encoded sizes, to cut pages well under the message limit. */
const workloadBytes = (w: WireWorkload) => WireWorkload.encode(w).finish().length;
const instanceBytes = (i: WireInstance) => WireInstance.encode(i).finish().length;

type WorkloadsHandlers = Pick<ControlPlaneServer, "applyWorkload" | "applyWorkloads" | "getWorkload" | "listWorkloads" | "deleteWorkload" | "listInstances" | "plan" | "getHistory">;

function workloadInput(w: WireWorkload | undefined, force?: boolean): Extract<Command, { type: "ApplyWorkload" }> {
  if (!w) throw invalid("workload", "a Workload message");
  return { type: "ApplyWorkload", name: w.name, labels: w.labels, spec: w.spec, force };
}

export function createWorkloadsHandlers(rpc: Rpc, r: Resources, history: EventHistory, policy: Policy): WorkloadsHandlers {
  return { ...workloadChanges(rpc, r, policy), ...workloadReads(rpc, r, history) };
}

/** Apply, delete, and Plan (what an apply would do, decided on a copy of the state). */
function workloadChanges(rpc: Rpc, r: Resources, policy: Policy): Pick<WorkloadsHandlers, "applyWorkload" | "applyWorkloads" | "deleteWorkload" | "plan"> {
  const { state } = r;
  return {
    applyWorkload: act(rpc, r, "ApplyWorkload", {
      lookUp: () => {},
      command: (req) => workloadInput(req.workload, req.force),
      render: (req, decision) => ({ workload: r.wireWorkload(state.workloads.get(req.workload!.name)!), changed: decision.applied !== "unchanged" }),
    }),

    applyWorkloads: rpc.unary("ApplyWorkloads", async (req) => {
      const workloads = req.workloads.map((w) => {
        const { name, labels, spec } = workloadInput(w);
        return { name, labels, spec };
      });
      const decision = await r.submit({ type: "ApplyWorkloads", workloads, force: req.force });
      return {
        applied: workloads.map((w, i) => {
          const outcome = decision.appliedEach![i]!;
          return { name: w.name, generation: state.workloads.get(w.name)!.generation, changed: outcome !== "unchanged", outcome: APPLY_OUTCOME_TO_WIRE[outcome] };
        }),
      };
    }),

    deleteWorkload: act(rpc, r, "DeleteWorkload", {
      lookUp: (req) => r.mustName(req.name),
      command: (req) => ({ type: "DeleteWorkload", name: req.name }),
      render: (req) => {
        const w = state.workloads.get(req.name);
        // Deleting a workload with no instances removes it within the same turn.
        return { workload: w ? r.wireWorkload(w) : undefined };
      },
    }),

    plan: rpc.unary("Plan", (req) => {
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
  };
}

/** A workload, the list of them, instances, and a workload's history. */
function workloadReads(rpc: Rpc, r: Resources, history: EventHistory): Pick<WorkloadsHandlers, "getWorkload" | "listWorkloads" | "listInstances" | "getHistory"> {
  const { state } = r;
  return {
    getWorkload: rpc.unary("GetWorkload", async (req) => {
      const w = r.workloadNamed(req.name);
      const instances = r.instancesOf(w.name);
      const found = { workload: toWireWorkload(state, w, instances), instances: instances.map(r.wireInstance) };
      return { ...found, events: r.recent(await history.recentEvents(w.name, RECENT_EVENTS)) };
    }),

    listWorkloads: rpc.unary("ListWorkloads", (req) => {
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

    listInstances: rpc.unary("ListInstances", (req) => {
      if (req.workload !== "") r.workloadNamed(req.workload, "workload");
      const scope = `instances:${req.workload}`;
      const cursor = cursorOf(req, scope);
      const of = req.workload === "" ? [...state.instances.values()] : instancesOfWorkload(state, req.workload);
      const page = takePage(of, cursor, scope, { keyOf: instanceKey, render: r.wireInstance, sizeOf: instanceBytes });
      return { instances: page.items, nextPageToken: page.nextPageToken };
    }),

    getHistory: rpc.unary("GetHistory", async (req) => {
      r.mustName(req.workload, "workload");
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
