/**
 * The web page's API, on the HTTP listener: sign-in (a token opens a session, whose random id
 * goes into an HttpOnly cookie; web-sessions.ts) and sign-out, one
 * Server-Sent Events stream of the fleet (a snapshot, then the commits' changes, merged per flush window, from
 * fleet-hub.ts), the fleet at an earlier event (the time slider), a workload's history (as
 * GetHistory reads it), a copy's log lines following live (through the gateway, as Logs reads
 * them), and the admin's mutations, which
 * are the writer's commands that the gRPC handlers submit. Every call but sign-in checks the
 * session's role with the core's authorize(), like every RPC. Without tokens (--insecure) there
 * is no sign-in: every caller reads, and no one changes anything from the page.
 * Which requests reach these routes at all (Host, Origin, JSON bodies) is web-guard.ts's.
 */
import { authorize, type ControlPlaneMethod, type Role } from "../../core/access/authz.js";
import type { Command } from "../../core/decide/commands.js";
import type { Instance } from "../../core/model/cluster-state.js";
import type { Rejection } from "../../core/model/rejections.js";
import { type CopyOnNode, lastEndedCopies } from "../../core/output/log-sources.js";
import { validateName } from "../../core/model/validate.js";
import type { AgentGateway } from "../grpc/agent-gateway.js";
import type { FleetHub } from "../writer/fleet-hub.js";
import { rejectionHttp } from "../grpc/rejection-codes.js";
import { hashToken } from "../security/tokens.js";
import { type SseStream, sseResponse } from "./sse.js";
import type { StreamLimits } from "../writer/stream-limits.js";
import type { EventHistory } from "../store/store.js";
import { pastFleets } from "./web-past.js";
import { detailRoutes } from "./web-details.js";
import type { Handler, Route } from "./web-guard.js";
import { WebSessions } from "./web-sessions.js";
import { toWireEvent } from "../grpc/wire.js";
import type { Writer } from "../writer/writer.js";

/** The cookie that carries the session id; under TLS with the `__Host-` prefix (Secure, Path=/, no Domain: no other host or plaintext page can set it). */
export const SESSION_COOKIE = "tessera_session";
/** Events GET /api/history returns by default, and at most. */
const HISTORY_DEFAULT = 50;
const HISTORY_MAX = 1_000;
/** How often an open page stream checks that its session still stands (a revoked token's streams end within it). */
const SESSION_CHECK_MS = 1_000;

/** Log lines a copy's log stream starts with. */
const LOG_TAIL = 100;
/** A session id as web-sessions.ts makes it; a cookie value that is not one is no session. */
const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;

export interface WebApiDeps {
  writer: Writer;
  history: EventHistory;
  fleet: FleetHub;
  gateway: AgentGateway;
  /** The kind of the active token with this SHA-256 hash; undefined: the control plane has no tokens (--insecure). */
  roleOfHash: ((tokenHash: string) => Role | undefined) | undefined;
  /** Streams open per token, shared with the gRPC streams. */
  streams: StreamLimits;
  /** The listener serves TLS: the cookie is `__Host-` prefixed and Secure. */
  secure: boolean;
}

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}) => Response.json(body, { status, headers: { "cache-control": "no-store", ...headers } });
export const refusal = (r: Rejection) => {
  const { status, error } = rejectionHttp(r);
  return json({ error }, status);
};

/** The session id a request's cookie carries; anything malformed is none. */
function cookieValue(req: Request, name: string): string | undefined {
  for (const part of (req.headers.get("cookie") ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) {
      const value = part.slice(at + 1).trim();
      return SESSION_ID.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/** What each mutation does, the RPC whose access it needs, and what it names. */
const NODE_ACTIONS = { cordon: "CordonNode", uncordon: "UncordonNode", drain: "DrainNode" } as const satisfies Record<string, ControlPlaneMethod & Command["type"]>;
const WORKLOAD_ACTIONS = {
  restart: "RestartWorkload",
  undo: "RollbackWorkload",
  delete: "DeleteWorkload",
  promote: "PromoteRollout",
  pause: "PauseRollout",
  resume: "PauseRollout",
} as const satisfies Record<string, ControlPlaneMethod & Command["type"]>;

/** Who a change from the page is recorded as made by (as `caller` names a gRPC call's token). */
const byPage = (key: string) => `the web page, token ${key.slice(0, 8)}`;

/**
 * A workload action's command, as the rollout handlers make it. `undo` takes an optional
 * `{"revision": N}` body: that generation's spec, read from the log, as `rollout undo --to-revision`.
 */
async function workloadCommand(history: EventHistory, action: keyof typeof WORKLOAD_ACTIONS, name: string, req: Request, key: string): Promise<Command | Rejection | string> {
  switch (action) {
    case "promote":
      return { type: "PromoteRollout", name, by: byPage(key) };
    case "pause":
    case "resume":
      return { type: "PauseRollout", name, paused: action === "pause", by: byPage(key) };
    case "undo": {
      const body = (await req.json().catch(() => ({}))) as { revision?: unknown };
      if (body.revision === undefined) return { type: "RollbackWorkload", name };
      if (typeof body.revision !== "number" || !Number.isInteger(body.revision) || body.revision < 1) return "revision: expected a whole number from 1";
      const spec = await history.revisionSpec(name, body.revision);
      return spec === undefined ? { kind: "UnknownRevision", name, revision: body.revision } : { type: "RollbackWorkload", name, to: { revision: body.revision, spec } };
    }
    default:
      return { type: WORKLOAD_ACTIONS[action] as "RestartWorkload" | "DeleteWorkload", name };
  }
}

/** What every route of the API reads through: the caller's admission, counted streams, the writer. */
export interface WebContext {
  deps: WebApiDeps;
  /** The session cookie's name (`__Host-` prefixed under TLS). */
  cookie: string;
  sessions: WebSessions | undefined;
  /** The call's caller when it may make `method`; otherwise the refusal (401 or 403). */
  admit(req: Request, method: ControlPlaneMethod): { role: Role; key: string } | Response;
  /**
   * A stream counted against its caller's token (429 past the limit), ended with the session it
   * was opened in: a sign-out, its time up, or its token revoked, rotated or expired.
   */
  stream(req: Request, key: string, open: (stream: SseStream) => () => void): Response;
}

function webContext(deps: WebApiDeps): WebContext {
  const cookie = deps.secure ? `__Host-${SESSION_COOKIE}` : SESSION_COOKIE;
  const sessions = deps.roleOfHash && new WebSessions(deps.roleOfHash);
  /** Who calls: the session's role and token (per-token limits count by it); without tokens everyone reads. */
  const callerOf = (req: Request): { role: Role; key: string } | undefined => (sessions ? sessions.callerOf(cookieValue(req, cookie)) : { role: "readonly", key: "insecure" });
  return {
    deps,
    cookie,
    sessions,
    admit: (req, method) => {
      const who = callerOf(req);
      const denied = authorize(who?.role, method);
      return denied ? refusal(denied) : who!;
    },
    stream: (req, key, open) => {
      const release = deps.streams.take(key);
      if (!release) return json({ error: `too many open streams for this token (at most ${deps.streams.perKey}); close some` }, 429);
      return sseResponse((s) => {
        const stop = open(s);
        const session = cookieValue(req, cookie);
        const watch = sessions && setInterval(() => sessions.callerOf(session) === undefined && s.close(), SESSION_CHECK_MS);
        return () => {
          clearInterval(watch);
          release();
          stop();
        };
      });
    },
  };
}

export function createWebApi(deps: WebApiDeps): Record<string, Route> {
  const ctx = webContext(deps);
  return {
    "/api/session": sessionRoutes(ctx),
    ...readRoutes(ctx),
    ...detailRoutes(ctx),
    "/api/nodes/:name/:action": { POST: mutation(ctx, NODE_ACTIONS, "node", (name) => ctx.deps.writer.view.nodes.has(name) || { kind: "UnknownNode", name }, (action, node) => ({ type: NODE_ACTIONS[action], node })) },
    "/api/workloads/:name/:action": {
      POST: mutation(ctx, WORKLOAD_ACTIONS, "workload", (name) => ctx.deps.writer.view.workloads.has(name) || { kind: "UnknownWorkload", name }, (action, name, req, key) => workloadCommand(deps.history, action, name, req, key)),
    },
  };
}

/**
 * One of a node's or workload's actions (`actions` names each one's RPC, whose access it needs):
 * the name checked, then found (or `known` says the refusal), then the writer's command.
 */
function mutation<A extends string>(
  ctx: WebContext,
  actions: Record<A, ControlPlaneMethod>,
  field: "node" | "workload",
  known: (name: string) => true | Rejection,
  command: (action: A, name: string, req: Request, key: string) => Command | Promise<Command | Rejection | string>,
): Handler {
  return async (req) => {
    // Its own names only: "constructor" or "__proto__" would find what every object has.
    const action = req.params.action! as A;
    const method = Object.hasOwn(actions, action) ? actions[action] : undefined;
    if (!method) return json({ error: `action: expected one of ${Object.keys(actions).join(", ")}` }, 404);
    const who = ctx.admit(req, method);
    if (who instanceof Response) return who;
    const name = req.params.name!;
    const bad = validateName(name, field);
    if (bad) return refusal(bad);
    const found = known(name);
    if (found !== true) return refusal(found);
    const made = await command(action, name, req, who.key);
    if (typeof made === "string") return json({ error: made }, 400);
    if (!("type" in made)) return refusal(made);
    const decision = await ctx.deps.writer.submit(made);
    return decision.rejection ? refusal(decision.rejection) : json({ ok: true });
  };
}

/** Sign-in, the caller's role, sign-out. */
function sessionRoutes({ deps, cookie, sessions, admit }: WebContext): Route {
  /** The cookie for a session id, or one that ends it at once. */
  const setCookie = (id: string, maxAge: number) => `${cookie}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}${deps.secure ? "; Secure" : ""}`;
  return {
    /** The caller's role, and whether it is signed in (under --insecure no one is: there is nothing to sign out of). */
    GET: (req) => {
      const who = admit(req, "Watch");
      return who instanceof Response ? who : json({ role: who.role, signedIn: sessions !== undefined });
    },
    /** Signs in: `{"token": "..."}` opens a session; its id goes into an HttpOnly, SameSite=Strict cookie the page's script cannot read. */
    POST: async (req) => {
      if (!sessions) return json({ error: "this control plane runs with --insecure: it has no tokens, and the page is read-only without signing in" }, 409);
      const body = (await req.json().catch(() => undefined)) as { token?: unknown } | undefined;
      if (typeof body?.token !== "string" || body.token === "") return json({ error: "token: expected a non-empty string in a JSON body" }, 400);
      const role = deps.roleOfHash!(hashToken(body.token));
      if (role !== "admin" && role !== "readonly") return json({ error: "token: not an active admin or read-only token" }, 401);
      return json({ role }, 200, { "set-cookie": setCookie(sessions.open(body.token, role), sessions.maxAgeSeconds) });
    },
    /** Signs out: the session ends here, whoever holds its id, and the browser drops the cookie. */
    DELETE: (req) => {
      sessions?.close(cookieValue(req, cookie));
      return json({ ok: true }, 200, { "set-cookie": setCookie("", 0) });
    },
  };
}

/** The fleet's stream, a workload's history, the fleet at an earlier event, a copy's log lines and usage. */
function readRoutes({ deps, admit, stream }: WebContext): Record<string, Route> {
  const { history, fleet, gateway } = deps;
  const view = deps.writer.view;
  const fleetAt = pastFleets(history);
  return {
    "/api/events": (req) => {
      const who = admit(req, "Watch");
      return who instanceof Response ? who : stream(req, who.key, (s) => fleet.follow(s));
    },

    /** A workload's last events, oldest first, as `ctl history` shows them. */
    "/api/history": async (req) => {
      const who = admit(req, "GetHistory");
      if (who instanceof Response) return who;
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
      const who = admit(req, "GetHistory");
      if (who instanceof Response) return who;
      return fleetAt(Number(new URL(req.url).searchParams.get("seq") ?? ""), who.key);
    },

    /**
     * A copy's last lines, then what it prints, as `line` events; `end` says why it stopped. With
     * `previous=1`, its replica's last ended copy's output instead (as `ctl logs --previous`).
     */
    "/api/logs": async (req) => {
      const who = admit(req, "Logs");
      if (who instanceof Response) return who;
      const query = new URL(req.url).searchParams;
      const id = query.get("copy") ?? "";
      const copy = view.instances.get(id);
      if (!copy) return json({ error: `copy: no copy with id "${id}"` }, 404);
      const previous = query.get("previous") === "1";
      const target = previous ? await lastEndedOf(history, view, copy) : copy.node === null ? undefined : { id, node: copy.node };
      return stream(req, who.key, (s) => {
        if (target === undefined) {
          s.send("end", { reason: previous ? `${copy.name} has no ended copy whose output its agent keeps` : `${copy.name} has not been placed on a node` });
          s.close();
          return () => {};
        }
        // An ended copy prints nothing more: it is read, not followed.
        return gateway.openLogs(target.node, target.id, LOG_TAIL, !previous, {
          onLines: (lines) => void s.send("lines", lines),
          onEnd: (error) => {
            s.send("end", { reason: error ?? (previous ? `the end of ${target.id}'s output` : "the copy's output ended") });
            s.close();
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
  };
}

/** The copy's replica's last ended copy that ran (the core's log-sources decides, as for `ctl logs --previous`). */
async function lastEndedOf(history: EventHistory, view: Writer["view"], copy: Instance): Promise<CopyOnNode | undefined> {
  const instances = [...(view.instancesByWorkload.get(copy.workload) ?? [])].map((i) => view.instances.get(i)!);
  return lastEndedCopies(await history.copyFacts(copy.workload), new Set([copy.name]), instances).get(copy.name);
}
