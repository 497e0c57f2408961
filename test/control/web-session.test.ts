/**
 * The web page's sessions and request checks against a real control plane (TLS on gRPC; its
 * page on loopback, plaintext): the cookie holds a session id, not the token; sign-out and a
 * rotated token end sessions; malformed input is refused with a status, never a 500; bodies are
 * small; under --insecure the page only reads; the time slider's replay runs one at a time per token.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { credentials } from "@grpc/grpc-js";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningControlPlane, startControlPlane } from "../../src/control/lifecycle/server.js";
import type { AgentGateway } from "../../src/control/grpc/agent-gateway.js";
import type { FleetHub } from "../../src/control/writer/fleet-hub.js";
import type { EventHistory } from "../../src/control/store/store.js";
import { StreamLimits } from "../../src/control/writer/stream-limits.js";
import { createWebApi } from "../../src/control/http/web-api.js";
import { WebSessions } from "../../src/control/http/web-sessions.js";
import type { Writer } from "../../src/control/writer/writer.js";
import { hashToken } from "../../src/control/security/tokens.js";
import type { Logger } from "../../src/shell/logger.js";
import { ControlPlaneClient, TokenKind } from "../../src/gen/tessera/v1/control_plane.js";
import { CHANNEL_OPTIONS } from "../../src/shell/control-channel.js";
import { withToken } from "./authz-calls.js";
import { spec } from "../core/fixtures.js";

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };

/** A control plane with its page on loopback; `web` is its origin. */
async function start(insecure = false): Promise<{ cp: RunningControlPlane; dir: string; web: string }> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-web-session-"));
  const cp = await startControlPlane({ listen: "127.0.0.1:0", dataDir: dir, log: silent, tickMs: 200, metricsListen: "127.0.0.1:0", insecure });
  return { cp, dir, web: `http://${cp.httpAddress}` };
}

/** What the page itself sends with a change. */
const fromPage = (web: string, extra: Record<string, string> = {}) => ({ origin: web, "content-type": "application/json", ...extra });

async function signIn(web: string, token: string): Promise<{ status: number; cookie?: string }> {
  const res = await fetch(`${web}/api/session`, { method: "POST", headers: fromPage(web), body: JSON.stringify({ token }) });
  return { status: res.status, cookie: res.headers.get("set-cookie")?.split(";")[0] };
}

describe("with tokens", () => {
  let cp: RunningControlPlane;
  let dir: string;
  let web: string;
  const admin = () => readFileSync(join(dir, "admin-token"), "utf8").trim();
  beforeAll(async () => ({ cp, dir, web } = await start()));
  afterAll(async () => {
    await cp.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("signing in sets a cookie with a random session id, not the token", async () => {
    const first = await signIn(web, admin());
    const second = await signIn(web, admin());
    expect(first.status).toBe(200);
    expect(first.cookie).toMatch(/^tessera_session=[A-Za-z0-9_-]{43}$/);
    expect(first.cookie).not.toContain(admin());
    expect(first.cookie).not.toBe(second.cookie);
    expect(await (await fetch(`${web}/api/session`, { headers: { cookie: first.cookie! } })).json()).toEqual({ role: "admin", signedIn: true });
    // The token itself in the cookie is no session.
    expect((await fetch(`${web}/api/session`, { headers: { cookie: `tessera_session=${admin()}` } })).status).toBe(401);
  });

  test("a sign-in sent as text/plain (a cross-site form can) is refused 415", async () => {
    const res = await fetch(`${web}/api/session`, { method: "POST", headers: fromPage(web, { "content-type": "text/plain" }), body: JSON.stringify({ token: admin() }) });
    expect(res.status).toBe(415);
    expect(res.headers.get("set-cookie")).toBeNull();
  });

  test("a change from another origin, or with no Origin, is refused 403 and nothing changes", async () => {
    const { cookie } = await signIn(web, admin());
    for (const headers of [fromPage(web, { origin: "http://127.0.0.1:1" }), fromPage(web, { "sec-fetch-site": "same-site" }), { "content-type": "application/json" }]) {
      const res = await fetch(`${web}/api/workloads/nope/restart`, { method: "POST", headers: { ...headers, cookie: cookie! }, body: "{}" });
      expect(res.status).toBe(403);
    }
    // From the page itself the same call reaches its route (no such workload).
    expect((await fetch(`${web}/api/workloads/nope/restart`, { method: "POST", headers: fromPage(web, { cookie: cookie! }), body: "{}" })).status).toBe(404);
  });

  test("a Host the control plane does not serve as (DNS rebinding) is refused", async () => {
    const { cookie } = await signIn(web, admin());
    const res = await fetch(`${web}/api/session`, { headers: { cookie: cookie!, host: "rebound.evil.example" } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toStartWith("Host: expected a name this control plane serves as");
  });

  test("DELETE /api/session signs out: the session id no longer works anywhere", async () => {
    const { cookie } = await signIn(web, admin());
    const out = await fetch(`${web}/api/session`, { method: "DELETE", headers: fromPage(web, { cookie: cookie! }), body: "{}" });
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toStartWith("tessera_session=; ");
    expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
    expect((await fetch(`${web}/api/session`, { headers: { cookie: cookie! } })).status).toBe(401);
  });

  test("rotating the admin token ends the sessions it opened", async () => {
    const { cookie } = await signIn(web, admin());
    const ca = readFileSync(join(dir, "pki", "ca.pem"));
    const c = new ControlPlaneClient(cp.address, withToken(ca, admin()), CHANNEL_OPTIONS);
    await new Promise((r, j) => c.rotateToken({ kind: TokenKind.TOKEN_KIND_ADMIN }, (e, res) => (e ? j(e) : r(res))));
    c.close();
    expect((await fetch(`${web}/api/session`, { headers: { cookie: cookie! } })).status).toBe(401);
    expect((await signIn(web, admin())).status).toBe(200);
  });

  test("an open page stream ends with its session: a revoked read-only token's event stream closes", async () => {
    const ca = readFileSync(join(dir, "pki", "ca.pem"));
    const c = new ControlPlaneClient(cp.address, withToken(ca, admin()), CHANNEL_OPTIONS);
    const created = await new Promise<{ token: string }>((r, j) => c.createToken({ kind: TokenKind.TOKEN_KIND_READONLY, ttlMs: 0, uses: 0 }, (e, res) => (e ? j(e) : r(res))));
    const { cookie } = await signIn(web, created.token);
    const res = await fetch(`${web}/api/events`, { headers: { cookie: cookie! } });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    const listed = await new Promise<{ tokens: Array<{ id: string; kind: TokenKind }> }>((r, j) => c.listTokens({}, (e, l) => (e ? j(e) : r(l))));
    const id = listed.tokens.find((t) => t.kind === TokenKind.TOKEN_KIND_READONLY)!.id;
    await new Promise((r, j) => c.revokeToken({ id }, (e, out) => (e ? j(e) : r(out))));
    c.close();
    // Read until the stream ends; a deadline fails the test instead of hanging it.
    const ended = (async () => {
      for (;;) if ((await reader.read()).done) return true;
    })();
    expect(await Promise.race([ended, Bun.sleep(10_000).then(() => false)])).toBe(true);
  });

  test("a malformed cookie is no session: 401, not a 500", async () => {
    for (const cookie of ["tessera_session=%E0%A4%A", "tessera_session=%", "tessera_session==;=", "tessera_session=a b"]) {
      const res = await fetch(`${web}/api/session`, { headers: { cookie } });
      expect([cookie, res.status]).toEqual([cookie, 401]);
    }
  });

  test("a body larger than the API needs is refused before it is read", async () => {
    const res = await fetch(`${web}/api/session`, { method: "POST", headers: fromPage(web), body: JSON.stringify({ token: "x".repeat(1024 * 1024) }) }).catch(() => undefined);
    expect(res === undefined || res.status === 413).toBe(true);
  });

  test("a GET on a POST route answers 405 naming the method it takes, an unknown API path 404", async () => {
    const { cookie } = await signIn(web, admin());
    const res = await fetch(`${web}/api/nodes/n1/cordon`, { headers: { cookie: cookie! } });
    expect([res.status, res.headers.get("allow")]).toEqual([405, "POST"]);
    expect((await fetch(`${web}/api/nowhere`)).status).toBe(404);
  });

  test("every answer carries the CSP, frame-ancestors and Referrer-Policy", async () => {
    for (const path of ["/api/session", "/api/events"]) {
      const res = await fetch(`${web}${path}`);
      expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    }
  });
});

describe("under --insecure", () => {
  let cp: RunningControlPlane;
  let dir: string;
  let web: string;
  beforeAll(async () => ({ cp, dir, web } = await start(true)));
  afterAll(async () => {
    await cp.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the page reads without signing in, and changes nothing", async () => {
    expect(await (await fetch(`${web}/api/session`)).json()).toEqual({ role: "readonly", signedIn: false });
    const res = await fetch(`${web}/api/nodes/n1/cordon`, { method: "POST", headers: fromPage(web), body: "{}" });
    expect(res.status).toBe(403);
    expect((await signIn(web, "anything")).status).toBe(409);
  });

  test("an action named like what every object has (constructor, toString, __proto__) is no action: 404, and no command reaches the writer", async () => {
    const client = new ControlPlaneClient(cp.address, credentials.createInsecure(), CHANNEL_OPTIONS);
    await new Promise((resolve, reject) => client.applyWorkload({ workload: { name: "web", labels: {}, spec: spec(), generation: 0 }, force: false }, (err, res) => (err ? reject(err) : resolve(res))));
    client.close();
    for (const action of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      // Before, such a name passed for a read-only action and the writer was handed a command it could not decide: the call never answered.
      const res = await fetch(`${web}/api/workloads/web/${action}`, { method: "POST", headers: fromPage(web), body: "{}", signal: AbortSignal.timeout(10_000) });
      expect([action, res.status, await res.json()]).toEqual([action, 404, { error: "action: expected one of restart, undo, delete, promote, pause, resume" }]);
      expect((await fetch(`${web}/api/nodes/web/${action}`, { method: "POST", headers: fromPage(web), body: "{}", signal: AbortSignal.timeout(10_000) })).status).toBe(404);
    }
  });

  test("a foreign Origin or Host is refused as with tokens", async () => {
    expect((await fetch(`${web}/api/nodes/n1/cordon`, { method: "POST", headers: fromPage(web, { origin: "http://evil.example" }), body: "{}" })).status).toBe(403);
    expect((await fetch(`${web}/api/session`, { headers: { host: "evil.example" } })).status).toBe(403);
  });
});

describe("a session's life", () => {
  test("ends when its time is up, and when its token stops being active", () => {
    let now = 0;
    let active = true;
    const sessions = new WebSessions((h) => (active && h === hashToken("t") ? "admin" : undefined), () => now, 1_000);
    const id = sessions.open("t", "admin");
    expect(sessions.callerOf(id)).toEqual({ role: "admin", key: hashToken("t") });
    now = 999;
    expect(sessions.callerOf(id)?.role).toBe("admin");
    now = 1_000;
    expect(sessions.callerOf(id)).toBeUndefined();
    const other = sessions.open("t", "admin");
    active = false;
    expect(sessions.callerOf(other)).toBeUndefined();
  });
});

describe("the time slider's replay", () => {
  test("runs one at a time per token: asked again before the last is answered, 429", async () => {
    // The log's first page is held back until the test lets it go.
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    const history = { newestSeq: () => 10, oldestSeq: async () => 1, eventsAfter: async () => (await held, []) } as unknown as EventHistory;
    const writer = { view: { nodes: new Map(), workloads: new Map(), instances: new Map() } } as unknown as Writer;
    const routes = createWebApi({ writer, history, fleet: {} as FleetHub, gateway: {} as AgentGateway, roleOfHash: () => "readonly", streams: new StreamLimits(), secure: false });
    const handle = (route: string, method: string, init: RequestInit & { url?: string } = {}) => {
      const r = routes[route]!;
      const h = typeof r === "function" ? r : r[method]!;
      return h(Object.assign(new Request(init.url ?? `http://127.0.0.1${route}`, { method, ...init }), { params: {} }));
    };
    const signedIn = await handle("/api/session", "POST", { body: JSON.stringify({ token: "t" }) });
    const cookie = signedIn.headers.get("set-cookie")!.split(";")[0]!;
    const at = (seq: number) => handle("/api/at", "GET", { url: `http://127.0.0.1/api/at?seq=${seq}`, headers: { cookie } });
    const first = at(5);
    const second = await at(6);
    expect(second.status).toBe(429);
    release();
    expect((await first).status).toBe(200);
    expect((await at(6)).status).toBe(200);
  });
});
