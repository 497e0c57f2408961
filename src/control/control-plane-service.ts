/**
 * gRPC handlers of the ControlPlane service. They validate, submit commands to the writer and
 * await the committed decision; reads come from the writer's in-memory view between turns.
 */
import { type sendUnaryData, type ServerUnaryCall, status } from "@grpc/grpc-js";
import type { Logger } from "../core/logger.js";
import type { Instance } from "../core/model.js";
import { validateName } from "../core/validate.js";
import type { ControlPlaneServer } from "../gen/tessera/v1/control_plane.js";
import { rejectionError } from "./status.js";
import type { Store } from "./store/store.js";
import { nodeUse, toWireEvent, toWireInstance, toWireNode, toWireWorkload } from "./wire.js";
import type { Writer } from "./writer.js";

/** How many recent events GetWorkload returns. */
const RECENT_EVENTS = 20;

type Handler<Req, Res> = (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void;

export function createControlPlaneService(writer: Writer, store: Store, log: Logger): ControlPlaneServer {
  const state = writer.state;
  const instancesOf = (workload: string): Instance[] =>
    [...state.instances.values()].filter((i) => i.workload === workload).sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));

  /** Wraps a handler: logs method, status and duration; turns surprises into INTERNAL. */
  function unary<Req, Res>(method: string, body: (req: Req) => Promise<Res> | Res): Handler<Req, Res> {
    return (call, callback) => {
      const started = performance.now();
      Promise.resolve()
        .then(() => body(call.request))
        .then(
          (res) => {
            log.info("rpc", { method, code: "OK", ms: +(performance.now() - started).toFixed(2) });
            callback(null, res);
          },
          (err: { code?: status; details?: string }) => {
            const known = typeof err?.code === "number";
            const code = known ? err.code! : status.INTERNAL;
            const details = known ? err.details! : `internal error: ${String(err)}`;
            (known ? log.info : log.error).call(log, "rpc", { method, code: status[code], details, ms: +(performance.now() - started).toFixed(2) });
            callback({ code, details });
          },
        );
    };
  }

  return {
    applyWorkload: unary("ApplyWorkload", async (req) => {
      if (!req.workload) throw { code: status.INVALID_ARGUMENT, details: "workload: expected a Workload message" };
      const w = req.workload;
      const decision = await writer.submit({ type: "ApplyWorkload", name: w.name, labels: w.labels, spec: w.spec });
      if (decision.rejection) throw rejectionError(decision.rejection);
      const stored = state.workloads.get(w.name)!;
      return { workload: toWireWorkload(stored, instancesOf(w.name)), changed: decision.changed ?? false };
    }),

    getWorkload: unary("GetWorkload", (req) => {
      const problem = validateName(req.name);
      if (problem) throw rejectionError(problem);
      const w = state.workloads.get(req.name);
      if (!w) throw rejectionError({ kind: "UnknownWorkload", name: req.name });
      const instances = instancesOf(w.name);
      return {
        workload: toWireWorkload(w, instances),
        instances: instances.map(toWireInstance),
        events: store.recentEvents(w.name, RECENT_EVENTS).map(toWireEvent),
      };
    }),

    listWorkloads: unary("ListWorkloads", () => {
      const byWorkload = new Map<string, Instance[]>();
      for (const i of state.instances.values()) {
        const list = byWorkload.get(i.workload);
        if (list) list.push(i);
        else byWorkload.set(i.workload, [i]);
      }
      const names = [...state.workloads.keys()].sort();
      return { workloads: names.map((n) => toWireWorkload(state.workloads.get(n)!, byWorkload.get(n) ?? [])) };
    }),

    deleteWorkload: unary("DeleteWorkload", async (req) => {
      const decision = await writer.submit({ type: "DeleteWorkload", name: req.name });
      if (decision.rejection) throw rejectionError(decision.rejection);
      const w = state.workloads.get(req.name);
      // Deleting a workload with no instances removes it within the same turn.
      return { workload: w ? toWireWorkload(w, instancesOf(w.name)) : undefined };
    }),

    listNodes: unary("ListNodes", () => {
      const use = nodeUse(state);
      const names = [...state.nodes.keys()].sort();
      return { nodes: names.map((n) => toWireNode(state.nodes.get(n)!, use.get(n))) };
    }),
  };
}

