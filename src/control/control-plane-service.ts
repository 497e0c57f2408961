/**
 * gRPC handlers of the ControlPlane service. They validate, submit commands to the writer and
 * await the committed decision; reads come from the writer's in-memory view between turns.
 * Nothing here decides: Plan runs the core on a copy of the state.
 */
import { type Metadata, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream, status } from "@grpc/grpc-js";
import { authorize, type ControlPlaneMethod, type Role } from "../core/authz.js";
import type { Command } from "../core/decide.js";
import type { Logger } from "../core/logger.js";
import { forkState, type Instance, instancesOfWorkload } from "../core/cluster-state.js";
import { nodeUse } from "../core/cluster-status.js";
import { compareKeys, type Cursor, isRejection, newestWithin, type PageRequest, readCursor, type SortKey, takePage } from "../core/paging.js";
import { renderPlanJsonl } from "../core/plan-render.js";
import { isEmptyPlan, type Policy, summarize } from "../core/reconcile.js";
import type { Rejection } from "../core/rejections.js";
import { runTurn } from "../core/turn.js";
import { validateName } from "../core/validate.js";
import { type ControlPlaneServer, type LogsRequest, type LogsResponse, TokenKind, type WatchRequest, type WatchResponse } from "../gen/tessera/v1/control_plane.js";
import { Event as WireEvent, Instance as WireInstance, Node as WireNode, Workload as WireWorkload } from "../gen/tessera/v1/types.js";
import type { AgentGateway } from "./agent-gateway.js";
import { bearer } from "./security/enrollment.js";
import { fingerprint, type Tokens } from "./security/tokens.js";
import { rejectionError } from "./rejection-codes.js";
import { undecodable } from "./undecodable.js";
import type { EventHistory } from "./store/event-history.js";
import type { WatchHub } from "./watch-hub.js";
import { toWireEvent, toWireInstance, toWireNode, toWireWorkload } from "./wire.js";
import type { Writer } from "./writer.js";

/** How many recent events GetWorkload returns. */
const RECENT_EVENTS = 20;
/** Bytes queued for a slow Watch or Logs client before it is cut off (it can resume). */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

type Handler<Req, Res> = (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void;
/** The role a call's credentials carry, or undefined when it has none that are valid. */
export type Authenticate = (metadata: Metadata) => Role | undefined;
type RpcError = { code: status; details: string };

export interface ServiceDeps {
  writer: Writer;
  history: EventHistory;
  gateway: AgentGateway;
  hub: WatchHub;
  policy: Policy;
  log: Logger;
  authenticate: Authenticate;
  /** Mints tokens (RotateToken, CreateToken); absent when security is off. */
  tokens?: Tokens;
  /** Hears every finished call (for metrics). */
  observeRpc?: (method: string, code: string, seconds: number) => void;
}

function invalid(field: string, expected: string): RpcError {
  return { code: status.INVALID_ARGUMENT, details: `${field}: expected ${expected}` };
}

function refused(r: Rejection): RpcError {
  return rejectionError(r);
}

/** The request, or an INVALID_ARGUMENT when its bytes did not decode. */
function decoded<Req>(request: Req): Req {
  const bad = undecodable(request);
  if (bad !== undefined) throw invalid("request", `a valid protobuf message (${bad})`);
  return request;
}

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

/** Where the requested page starts, or INVALID_ARGUMENT naming page_size or page_token. */
function cursorOf(req: PageRequest, scope: string): Cursor {
  const cursor = readCursor(req, scope);
  if (isRejection(cursor)) throw refused(cursor);
  return cursor;
}

/** Who made a call, as history shows it: the fingerprint of the token it presented. */
function caller(metadata: Metadata): string {
  const token = bearer(metadata);
  return token === undefined ? "a call without a token" : `the holder of token ${fingerprint(token)}`;
}

export function createControlPlaneService(deps: ServiceDeps): ControlPlaneServer {
  const { writer, history, gateway, hub, policy, log } = deps;
  const state = writer.view;
  const instancesOf = (workload: string): Instance[] => instancesOfWorkload(state, workload).sort(byName);

  const finish = (method: string, started: number, code: status, details?: string) => {
    const seconds = (performance.now() - started) / 1000;
    deps.observeRpc?.(method, status[code], seconds);
    const fields = { method, code: status[code], ms: +(seconds * 1000).toFixed(2), ...(details ? { details } : {}) };
    if (code === status.INTERNAL || code === status.UNKNOWN) log.error("rpc", fields);
    else log.info("rpc", fields);
  };

  /** Wraps a handler: logs method, status and duration; turns surprises into INTERNAL. */
  function unary<Req, Res>(method: ControlPlaneMethod, body: (req: Req, metadata: Metadata) => Promise<Res> | Res): Handler<Req, Res> {
    return (call, callback) => {
      const started = performance.now();
      Promise.resolve()
        .then(() => {
          const denied = authorize(deps.authenticate(call.metadata), method);
          if (denied) throw refused(denied);
          return body(decoded(call.request), call.metadata);
        })
        .then(
          (res) => {
            finish(method, started, status.OK);
            callback(null, res);
          },
          (err: Partial<RpcError>) => {
            const known = typeof err?.code === "number";
            const code = known ? err.code! : status.INTERNAL;
            const details = known ? err.details! : `internal error: ${String(err)}`;
            finish(method, started, code, details);
            callback({ code, details });
          },
        );
    };
  }

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
  const nodeNamed = (name: string) => {
    mustName(name);
    const n = state.nodes.get(name);
    if (!n) throw refused({ kind: "UnknownNode", name });
    return n;
  };
  const wireNode = (name: string) => toWireNode(state.nodes.get(name)!, nodeUse(state).get(name));
  const submit = async (command: Command) => {
    const decision = await writer.submit(command);
    if (decision.rejection) throw refused(decision.rejection);
    return decision;
  };
  const workloadInput = (w: WireWorkload | undefined): Extract<Command, { type: "ApplyWorkload" }> => {
    if (!w) throw invalid("workload", "a Workload message");
    return { type: "ApplyWorkload", name: w.name, labels: w.labels, spec: w.spec };
  };

  return {
    applyWorkload: unary("ApplyWorkload", async (req) => {
      const command = workloadInput(req.workload);
      const decision = await submit(command);
      const stored = state.workloads.get(command.name)!;
      return { workload: toWireWorkload(stored, instancesOf(command.name)), changed: decision.changed ?? false };
    }),

    applyWorkloads: unary("ApplyWorkloads", async (req) => {
      const workloads = req.workloads.map((w) => {
        const { name, labels, spec } = workloadInput(w);
        return { name, labels, spec };
      });
      const decision = await submit({ type: "ApplyWorkloads", workloads });
      return {
        applied: workloads.map((w, i) => ({ name: w.name, generation: state.workloads.get(w.name)!.generation, changed: decision.changedEach![i]! })),
      };
    }),

    getWorkload: unary("GetWorkload", (req) => {
      const w = workloadNamed(req.name);
      const instances = instancesOf(w.name);
      return {
        workload: toWireWorkload(w, instances),
        instances: instances.map((i) => toWireInstance(i, state.nodes)),
        events: newestWithin(history.recentEvents(w.name, RECENT_EVENTS).map(toWireEvent), eventBytes),
      };
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
        render: (w) => toWireWorkload(w, byWorkload.get(w.name) ?? []),
        sizeOf: workloadBytes,
      });
      return { workloads: page.items, nextPageToken: page.nextPageToken };
    }),

    deleteWorkload: unary("DeleteWorkload", async (req) => {
      mustName(req.name);
      await submit({ type: "DeleteWorkload", name: req.name });
      const w = state.workloads.get(req.name);
      // Deleting a workload with no instances removes it within the same turn.
      return { workload: w ? toWireWorkload(w, instancesOf(w.name)) : undefined };
    }),

    listNodes: unary("ListNodes", (req) => {
      const cursor = cursorOf(req, "nodes");
      const use = nodeUse(state);
      const page = takePage(state.nodes.values(), cursor, "nodes", { keyOf: nameKey, render: (n) => toWireNode(n, use.get(n.name)), sizeOf: nodeBytes });
      return { nodes: page.items, nextPageToken: page.nextPageToken };
    }),

    getNode: unary("GetNode", (req) => {
      const n = nodeNamed(req.name);
      const instances = [...state.instances.values()].filter((i) => i.node === n.name).sort(byName);
      return { node: wireNode(n.name), instances: instances.map((i) => toWireInstance(i, state.nodes)) };
    }),

    listInstances: unary("ListInstances", (req) => {
      if (req.workload !== "") workloadNamed(req.workload, "workload");
      const scope = `instances:${req.workload}`;
      const cursor = cursorOf(req, scope);
      const of = req.workload === "" ? [...state.instances.values()] : instancesOfWorkload(state, req.workload);
      const page = takePage(of, cursor, scope, { keyOf: instanceKey, render: (i) => toWireInstance(i, state.nodes), sizeOf: instanceBytes });
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
      return { workload: toWireWorkload(w, instancesOf(w.name)) };
    }),

    rollbackWorkload: unary("RollbackWorkload", async (req) => {
      workloadNamed(req.name);
      await submit({ type: "RollbackWorkload", name: req.name });
      const w = state.workloads.get(req.name)!;
      return { workload: toWireWorkload(w, instancesOf(w.name)) };
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
        changed: decision.changed ?? false,
        generation: applied.generation,
        summary: p ? summarize(p) : "converged",
        actions: p && !isEmptyPlan(p) ? renderPlanJsonl(p) : [],
      };
    }),

    rotateToken: unary("RotateToken", async (req, metadata) => {
      if (!deps.tokens) throw { code: status.FAILED_PRECONDITION, details: "this control plane runs with --insecure: it has no tokens" };
      const kind = req.kind === TokenKind.TOKEN_KIND_ADMIN ? "admin" : req.kind === TokenKind.TOKEN_KIND_JOIN ? "join" : undefined;
      if (!kind) throw invalid("kind", "TOKEN_KIND_ADMIN or TOKEN_KIND_JOIN");
      return { token: await deps.tokens.issue(kind, caller(metadata)) };
    }),

    createToken: unary("CreateToken", async (_req, metadata) => {
      if (!deps.tokens) throw { code: status.FAILED_PRECONDITION, details: "this control plane runs with --insecure: it has no tokens" };
      return { token: await deps.tokens.issue("readonly", caller(metadata)) };
    }),

    getHistory: unary("GetHistory", (req) => {
      mustName(req.workload, "workload");
      // The limit is part of the request a token belongs to: the window of the last `limit`
      // events is fixed by the first page, later pages continue it.
      const scope = `history:${req.workload}:${req.limit}`;
      const cursor = cursorOf(req, scope);
      const left = req.limit > 0 ? req.limit - cursor.returned : Infinity;
      const after = cursor.after ? Number(cursor.after[0]) : history.historyStart(req.workload, req.limit);
      // One event more than the page holds tells whether there is a next page.
      const rows = history.eventsAfter(after, Math.min(cursor.size + 1, left), req.workload);
      const page = takePage(rows, { ...cursor, size: Math.min(cursor.size, left) }, scope, { keyOf: seqKey, render: toWireEvent, sizeOf: eventBytes });
      return { events: page.items, nextPageToken: page.nextPageToken };
    }),

    watch: (call: ServerWritableStream<WatchRequest, WatchResponse>) => {
      const started = performance.now();
      const denied = authorize(deps.authenticate(call.metadata), "Watch");
      if (denied) return endWith(call, "Watch", started, refused(denied));
      const bad = undecodable(call.request);
      if (bad !== undefined) return endWith(call, "Watch", started, invalid("request", `a tessera.v1.WatchRequest (${bad})`));
      const req = call.request;
      if (req.workload !== "") {
        const problem = validateName(req.workload, "workload");
        if (problem) return endWith(call, "Watch", started, refused(problem));
      }
      let ended = false;
      const end = hub.watch(
        {
          workload: req.workload || undefined,
          send: (e) => {
            if (ended) return false;
            if (call.writableLength > MAX_QUEUED_BYTES) {
              ended = true;
              endWith(call, "Watch", started, { code: status.RESOURCE_EXHAUSTED, details: `watcher too slow; resume with after_sequence ${e.seq - 1}` });
              return false;
            }
            call.write({ event: toWireEvent(e) });
            return true;
          },
        },
        req.afterSequence,
      );
      call.on("cancelled", () => {
        if (ended) return;
        ended = true;
        end();
        finish("Watch", started, status.CANCELLED);
      });
    },

    logs: (call: ServerWritableStream<LogsRequest, LogsResponse>) => {
      const started = performance.now();
      const denied = authorize(deps.authenticate(call.metadata), "Logs");
      if (denied) return endWith(call, "Logs", started, refused(denied));
      const bad = undecodable(call.request);
      if (bad !== undefined) return endWith(call, "Logs", started, invalid("request", `a tessera.v1.LogsRequest (${bad})`));
      const req = call.request;
      let targets: Instance[];
      try {
        const w = workloadNamed(req.workload, "workload");
        targets = instancesOf(w.name).filter((i) => i.node !== null && (req.instance === "" || i.name === req.instance || i.id === req.instance));
        if (req.instance !== "" && targets.length === 0) throw { code: status.NOT_FOUND, details: `instance "${req.instance}" of workload "${w.name}" not found on any node` };
      } catch (err) {
        return endWith(call, "Logs", started, err as RpcError);
      }
      // Without an explicit instance, a replica's earlier attempts are skipped: the newest per name.
      if (req.instance === "") {
        const newest = new Map<string, Instance>();
        for (const i of targets) newest.set(i.name, i);
        targets = [...newest.values()];
      }
      let open = targets.length;
      let failure: string | undefined;
      let done = false;
      const close = () => {
        if (done) return;
        done = true;
        for (const c of cancels) c();
        if (failure && targets.length === 1) endWith(call, "Logs", started, { code: status.UNAVAILABLE, details: failure });
        else {
          finish("Logs", started, status.OK);
          call.end();
        }
      };
      const cancels = targets.map((inst) =>
        gateway.openLogs(inst.node!, inst.id, req.tail, req.follow, {
          onLines: (lines) => {
            if (done) return;
            for (const text of lines) call.write({ instance: inst.name, text });
          },
          onEnd: (error) => {
            if (error) {
              failure = error;
              log.warn("logs ended", { instance: inst.id, error });
            }
            if (--open === 0) close();
          },
        }),
      );
      if (open === 0) close();
      call.on("cancelled", () => {
        if (done) return;
        done = true;
        for (const c of cancels) c();
        finish("Logs", started, status.CANCELLED);
      });
    },
  };

  function endWith(call: ServerWritableStream<unknown, unknown>, method: string, started: number, err: RpcError): void {
    finish(method, started, err.code, err.details);
    call.emit("error", { code: err.code, details: err.details });
  }
}

