/**
 * The web page's API, on the HTTP listener: sign-in (a token becomes an HttpOnly cookie), one
 * Server-Sent Events stream of the fleet (a snapshot, then the commits' changes, merged per flush window, from
 * fleet-hub.ts), the fleet at an earlier event (the time slider), a workload's history (as
 * GetHistory reads it), a copy's log lines following live (through the gateway, as Logs reads
 * them), and the admin's mutations, which
 * are the writer's commands that the gRPC handlers submit. Every call but sign-in checks the
 * cookie's role with the core's authorize(), like every RPC.
 */
import { authorize, type ControlPlaneMethod, type Role } from "../core/authz.js";
import type { Command } from "../core/decide.js";
import { fleetSnapshot } from "../core/fleet-view.js";
import { ReplayCheckpoints } from "../core/replay-checkpoints.js";
import type { Rejection } from "../core/rejections.js";
import { validateName } from "../core/validate.js";
import type { AgentGateway } from "./agent-gateway.js";
import type { FleetHub } from "./fleet-hub.js";
import { rejectionHttp } from "./rejection-codes.js";
import { type SseStream, sseResponse } from "./sse.js";
import type { EventHistory } from "./store/store.js";
import { toWireEvent } from "./wire.js";
import type { Writer } from "./writer.js";

/** The cookie that carries the token. */
export const SESSION_COOKIE = "tessera_session";
/** Events GET /api/history returns by default, and at most. */
const HISTORY_DEFAULT = 50;
const HISTORY_MAX = 1_000;
/** Log lines a copy's log stream starts with. */
const LOG_TAIL = 100;
/** Events read from the log per page when rebuilding the past. */
const REPLAY_PAGE = 5_000;
/**
 * States of the past kept for the time slider: one per this many events at first, at most this
 * many (each a whole fleet: ~10,000 copies' records), spread wider as the log grows.
 */
const CHECKPOINT_EVERY = 1_000;
const CHECKPOINTS_KEPT = 16;

export interface WebApiDeps {
  writer: Writer;
  history: EventHistory;
  fleet: FleetHub;
  gateway: AgentGateway;
  /** The role a token carries, or undefined (no token, or not an active one). */
  roleOf: (token: string | undefined) => Role | undefined;
  /** The cookie gets `Secure` (the listener serves TLS). */
  secure: boolean;
}

type Route = (req: Request & { params: Record<string, string> }) => Response | Promise<Response>;

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) => Response.json(body, { status, headers: { "cache-control": "no-store", ...headers } });
const refusal = (r: Rejection) => {
  const { status, error } = rejectionHttp(r);
  return json({ error }, status);
};

function cookieToken(req: Request): string | undefined {
  for (const part of (req.headers.get("cookie") ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === SESSION_COOKIE) return decodeURIComponent(part.slice(at + 1).trim());
  }
  return undefined;
}

/** What each mutation does, the RPC whose access it needs, and what it names. */
const NODE_ACTIONS = { cordon: "CordonNode", uncordon: "UncordonNode", drain: "DrainNode" } as const satisfies Record<string, ControlPlaneMethod & Command["type"]>;
const WORKLOAD_ACTIONS = { restart: "RestartWorkload", undo: "RollbackWorkload", delete: "DeleteWorkload" } as const satisfies Record<string, ControlPlaneMethod & Command["type"]>;

export function createWebApi(deps: WebApiDeps): Record<string, Route | Record<string, Route>> {
  const { writer, history, fleet, gateway } = deps;
  const view = writer.view;

  /** The call's role when it may make `method`; otherwise the refusal (401 or 403). */
  const admit = (req: Request, method: ControlPlaneMethod): Role | Response => {
    const role = deps.roleOf(cookieToken(req));
    const denied = authorize(role, method);
    return denied ? refusal(denied) : role!;
  };

  const submit = async (command: Command): Promise<Response> => {
    const decision = await writer.submit(command);
    return decision.rejection ? refusal(decision.rejection) : json({ ok: true });
  };

  /**
   * The fleet as it was right after event `seq`: the log folded through the core's evolve
   * (invariant 8: folding the log rebuilds the live state), from the nearest state kept on the
   * way by an earlier request. Only while retention has dropped nothing. The last answer is
   * kept too: a slider resting on one event asks once.
   */
  const checkpoints = new ReplayCheckpoints(CHECKPOINT_EVERY, CHECKPOINTS_KEPT);
  let last: { seq: number; body: string } | undefined;
  const fleetAt = async (seq: number): Promise<Response> => {
    const newest = history.newestSeq();
    if (!Number.isInteger(seq) || seq < 1 || seq > newest) return json({ error: `seq: expected a whole number from 1 to ${newest}` }, 400);
    const oldest = await history.oldestSeq();
    if (oldest > 1) return json({ error: `seq: retention dropped the log's first ${oldest - 1} events; the past cannot be rebuilt` }, 409);
    if (last?.seq !== seq) {
      const fold = checkpoints.from(seq);
      while (fold.seq < seq) {
        const page = await history.eventsAfter(fold.seq, Math.min(REPLAY_PAGE, seq - fold.seq));
        if (page.length === 0) break;
        for (const e of page) if (e.seq <= seq) fold.step(e.seq, e.event);
        if (page.at(-1)!.seq >= seq) break;
      }
      last = { seq, body: JSON.stringify(fleetSnapshot(fold.state, seq)) };
    }
    return new Response(last.body, { headers: { "content-type": "application/json", "cache-control": "no-store" } });
  };

  const nodeAction: Route = async (req) => {
    const method = NODE_ACTIONS[req.params.action as keyof typeof NODE_ACTIONS];
    if (!method) return json({ error: `action: expected one of ${Object.keys(NODE_ACTIONS).join(", ")}` }, 404);
    const role = admit(req, method);
    if (role instanceof Response) return role;
    const name = req.params.name!;
    const bad = validateName(name, "node");
    if (bad) return refusal(bad);
    if (!view.nodes.has(name)) return refusal({ kind: "UnknownNode", name });
    return submit({ type: method, node: name });
  };

  const workloadAction: Route = async (req) => {
    const method = WORKLOAD_ACTIONS[req.params.action as keyof typeof WORKLOAD_ACTIONS];
    if (!method) return json({ error: `action: expected one of ${Object.keys(WORKLOAD_ACTIONS).join(", ")}` }, 404);
    const role = admit(req, method);
    if (role instanceof Response) return role;
    const name = req.params.name!;
    const bad = validateName(name, "workload");
    if (bad) return refusal(bad);
    if (!view.workloads.has(name)) return refusal({ kind: "UnknownWorkload", name });
    return submit({ type: method, name });
  };

  return {
    "/api/session": {
      GET: (req) => {
        const role = admit(req, "Watch");
        return role instanceof Response ? role : json({ role });
      },
      /** Signs in: `{"token": "..."}`; the token goes into an HttpOnly, SameSite=Strict cookie the page's script cannot read. */
      POST: async (req) => {
        const body = (await req.json().catch(() => undefined)) as { token?: unknown } | undefined;
        if (typeof body?.token !== "string" || body.token === "") return json({ error: "token: expected a non-empty string in a JSON body" }, 400);
        const role = deps.roleOf(body.token);
        if (role !== "admin" && role !== "readonly") return json({ error: "token: not an active admin or read-only token" }, 401);
        const cookie = `${SESSION_COOKIE}=${encodeURIComponent(body.token)}; HttpOnly; SameSite=Strict; Path=/${deps.secure ? "; Secure" : ""}`;
        return json({ role }, 200, { "set-cookie": cookie });
      },
    },

    "/api/events": (req) => {
      const role = admit(req, "Watch");
      return role instanceof Response ? role : sseResponse((stream) => fleet.follow(stream));
    },

    /** A workload's last events, oldest first, as `ctl history` shows them. */
    "/api/history": async (req) => {
      const role = admit(req, "GetHistory");
      if (role instanceof Response) return role;
      const query = new URL(req.url).searchParams;
      const workload = query.get("workload") ?? "";
      const bad = validateName(workload, "workload");
      if (bad) return refusal(bad);
      const limit = Number(query.get("limit") ?? HISTORY_DEFAULT);
      if (!Number.isInteger(limit) || limit < 1 || limit > HISTORY_MAX) return json({ error: `limit: expected a whole number from 1 to ${HISTORY_MAX}` }, 400);
      return json({ events: (await history.eventsAfter(await history.historyStart(workload, limit), limit, workload)).map(toWireEvent) });
    },

    /** The fleet as it was at a sequence number of the event log (the page's time slider). */
    "/api/at": async (req) => {
      const role = admit(req, "GetHistory");
      if (role instanceof Response) return role;
      return fleetAt(Number(new URL(req.url).searchParams.get("seq") ?? ""));
    },

    /** A copy's last lines, then what it prints, as `line` events; `end` says why it stopped. */
    "/api/logs": (req) => {
      const role = admit(req, "Logs");
      if (role instanceof Response) return role;
      const id = new URL(req.url).searchParams.get("copy") ?? "";
      const copy = view.instances.get(id);
      if (!copy) return json({ error: `copy: no copy with id "${id}"` }, 404);
      const node = copy.node;
      return sseResponse((stream) => {
        if (node === null) {
          stream.send("end", { reason: `${copy.name} has not been placed on a node` });
          stream.close();
          return () => {};
        }
        return gateway.openLogs(node, id, LOG_TAIL, true, {
          onLines: (lines) => void stream.send("lines", lines),
          onEnd: (error) => {
            stream.send("end", { reason: error ?? "the copy's output ended" });
            stream.close();
          },
        });
      });
    },

    /** What a running copy uses, from its agent's last sample (null when none was heard), as `ctl top` shows it. */
    "/api/usage": (req) => {
      const role = admit(req, "ListInstances");
      if (role instanceof Response) return role;
      const id = new URL(req.url).searchParams.get("copy") ?? "";
      const copy = view.instances.get(id);
      if (!copy) return json({ error: `copy: no copy with id "${id}"` }, 404);
      return json({ usage: gateway.usage.ofInstance(copy) ?? null });
    },

    "/api/nodes/:name/:action": { POST: nodeAction },
    "/api/workloads/:name/:action": { POST: workloadAction },
  };
}
