/**
 * The authorization matrix, against a real control plane with TLS: every ControlPlane method
 * under no credentials, a wrong token, a revoked token, a join token and a read-only token;
 * agents with no certificate, an expired one, another node's; enrollment with a bad token; the
 * web page's API under no cookie, a made-up or malformed one, the token itself, a rotated
 * token's and a signed-out session, and a read-only session.
 * Each is refused with UNAUTHENTICATED or PERMISSION_DENIED and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ChannelCredentials, type ClientDuplexStream, credentials, status } from "@grpc/grpc-js";
import { generateNodeKey, NodeCredentials } from "../../src/agent/credentials.js";
import { CHANNEL_OPTIONS } from "../../src/shell/control-channel.js";
import { Pki } from "../../src/control/security/pki.js";
import { type RunningControlPlane, startControlPlane } from "../../src/control/lifecycle/server.js";
import { METHOD_ACCESS, type ControlPlaneMethod } from "../../src/core/access/authz.js";
import type { Logger } from "../../src/shell/logger.js";
import { AgentGatewayClient, type AgentMessage, type ControlMessage, EnrollmentClient } from "../../src/gen/tessera/v1/agent_gateway.js";
import { ControlPlaneClient, TokenKind } from "../../src/gen/tessera/v1/control_plane.js";
import { invoke, withToken } from "./authz-calls.js";
import { eventually } from "../e2e/harness.js";
import { bareHello } from "./bare-hello.js";

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };
let cp: RunningControlPlane;
let dir: string;
let ca: Buffer;
let admin: string;
let revoked: string;
let readonly: string;
let join_: string;
/** A page session opened with the admin token before it was rotated. */
let revokedSession: string | undefined;

const web = () => `http://${cp.httpAddress}`;
/** What the page itself sends with a change. */
const fromPage = () => ({ origin: web(), "content-type": "application/json" });
/** The cookie a sign-in with `token` sets, or undefined when it is refused. */
async function webSession(token: string): Promise<string | undefined> {
  const res = await fetch(`${web()}/api/session`, { method: "POST", headers: fromPage(), body: JSON.stringify({ token }) });
  return res.ok ? res.headers.get("set-cookie")!.split(";")[0] : undefined;
}
let expired: string;
let revokedReadonly: string;

const client = (token?: string) => new ControlPlaneClient(cp.address, token === undefined ? credentials.createSsl(ca) : withToken(ca, token), CHANNEL_OPTIONS);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tessera-authz-"));
  cp = await startControlPlane({ listen: "127.0.0.1:0", dataDir: dir, log: silent, tickMs: 200, metricsListen: "127.0.0.1:0" });
  ca = readFileSync(join(dir, "pki", "ca.pem"));
  revoked = readFileSync(join(dir, "admin-token"), "utf8").trim();
  join_ = readFileSync(join(dir, "join-token"), "utf8").trim();
  revokedSession = await webSession(revoked);
  const first = client(revoked);
  admin = await new Promise<string>((r, j) => first.rotateToken({ kind: TokenKind.TOKEN_KIND_ADMIN }, (e, res) => (e ? j(e) : r(res.token))));
  first.close();
  expect(readFileSync(join(dir, "admin-token"), "utf8").trim()).toBe(admin);
  const a = client(admin);
  readonly = await new Promise<string>((r, j) => a.createToken({ kind: TokenKind.TOKEN_KIND_READONLY, ttlMs: 0, uses: 0 }, (e, res) => (e ? j(e) : r(res.token))));
  // Long enough to be above zero when the writer decides it, however loaded; then waited out.
  expired = await new Promise<string>((r, j) => a.createToken({ kind: TokenKind.TOKEN_KIND_READONLY, ttlMs: 300, uses: 0 }, (e, res) => (e ? j(e) : r(res.token))));
  const short = client(expired);
  await eventually("the short token expired", async () => ((await invoke(short, "ListNodes")) === status.UNAUTHENTICATED ? true : undefined), 10_000, 50);
  short.close();
  const made = await new Promise<{ token: string; id: string }>((r, j) => a.createToken({ kind: TokenKind.TOKEN_KIND_READONLY, ttlMs: 0, uses: 0 }, (e, res) => (e ? j(e) : r(res))));
  await new Promise<void>((r, j) => a.revokeToken({ id: made.id }, (e) => (e ? j(e) : r())));
  revokedReadonly = made.token;
  a.close();
});
afterAll(async () => {
  await cp.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("ControlPlane API", () => {
  const methods = Object.keys(METHOD_ACCESS) as ControlPlaneMethod[];
  const cases: Array<[string, () => string | undefined, (m: ControlPlaneMethod) => status[]]> = [
    ["no credentials", () => undefined, () => [status.UNAUTHENTICATED]],
    ["a wrong token", () => "tessera-admin-not-a-real-token", () => [status.UNAUTHENTICATED]],
    ["a revoked admin token", () => revoked, () => [status.UNAUTHENTICATED]],
    ["the join token", () => join_, () => [status.PERMISSION_DENIED]],
    ["an expired read-only token", () => expired, () => [status.UNAUTHENTICATED]],
    ["a revoked read-only token", () => revokedReadonly, () => [status.UNAUTHENTICATED]],
    ["a read-only token", () => readonly, (m) => (METHOD_ACCESS[m] === "write" ? [status.PERMISSION_DENIED] : [status.OK, status.NOT_FOUND, status.DEADLINE_EXCEEDED])],
  ];
  for (const [who, token, expected] of cases) {
    test(`${who}: every method answers ${who === "a read-only token" ? "PERMISSION_DENIED for writes, and reads work" : "as refused"}`, async () => {
      const c = client(token());
      const answers = [];
      for (const m of methods) answers.push({ method: m, code: await invoke(c, m) });
      expect(answers.filter((a) => !expected(a.method).includes(a.code)).map((a) => `${a.method}: ${status[a.code]}`)).toEqual([]);
      c.close();
    });
  }

  test("nothing the refused calls tried happened; the admin token still works", async () => {
    const c = client(admin);
    const res = await new Promise<{ workloads: unknown[] }>((r, j) => c.listWorkloads({ pageSize: 0, pageToken: "" }, (e, x) => (e ? j(e) : r(x))));
    expect(res.workloads).toEqual([]);
    expect(readFileSync(join(dir, "join-token"), "utf8").trim()).toBe(join_);
    expect(await invoke(c, "ApplyWorkload")).toBe(status.OK);
    c.close();
  });

  test("the database keeps only hashes of tokens", async () => {
    const db = readFileSync(join(dir, "tessera.db"));
    const wal = (() => {
      try {
        return readFileSync(join(dir, "tessera.db-wal"));
      } catch {
        return Buffer.alloc(0);
      }
    })();
    for (const t of [admin, join_, readonly]) {
      expect(db.includes(Buffer.from(t))).toBe(false);
      expect(wal.includes(Buffer.from(t))).toBe(false);
    }
  });
});

describe("the web page's API", () => {
  /** Every route, with the method the page uses (a stream's status is read from its headers). */
  const routes: Array<[string, string, "read" | "write"]> = [
    ["GET", "/api/session", "read"],
    ["GET", "/api/events", "read"],
    ["GET", "/api/history?workload=nope", "read"],
    ["GET", "/api/at?seq=1", "read"],
    ["GET", "/api/logs?copy=nope", "read"],
    ["GET", "/api/logs?copy=nope&previous=1", "read"],
    ["POST", "/api/nodes/nope/cordon", "write"],
    ["POST", "/api/nodes/nope/drain", "write"],
    ["POST", "/api/workloads/nope/restart", "write"],
    ["POST", "/api/workloads/nope/delete", "write"],
    ["POST", "/api/workloads/nope/promote", "write"],
    ["POST", "/api/workloads/nope/pause", "write"],
    ["POST", "/api/workloads/nope/resume", "write"],
    ["POST", "/api/workloads/nope/undo", "write"],
    ["GET", "/api/workloads/nope", "read"],
    ["GET", "/api/nodes/nope", "read"],
    ["GET", "/api/top", "read"],
    ["GET", "/api/log", "read"],
  ];
  const call = async (method: string, path: string, cookie: string | undefined) => {
    const res = await fetch(`${web()}${path}`, { method, headers: { ...fromPage(), ...(cookie ? { cookie } : {}) }, body: method === "GET" ? undefined : "{}" });
    await res.body?.cancel();
    return res.status;
  };
  const cases: Array<[string, () => Promise<string | undefined>, (access: "read" | "write") => number[]]> = [
    ["no cookie", async () => undefined, () => [401]],
    ["a made-up session id", async () => "tessera_session=aGVsbG8td29ybGQtbm90LWEtc2Vzc2lvbi1pZC1hdC1hbGw", () => [401]],
    ["a malformed cookie", async () => "tessera_session=%E0%A4%A", () => [401]],
    ["the token itself as the cookie", async () => `tessera_session=${admin}`, () => [401]],
    ["a session of the rotated admin token", async () => revokedSession, () => [401]],
    [
      "a signed-out session",
      async () => {
        const cookie = await webSession(admin);
        await fetch(`${web()}/api/session`, { method: "DELETE", headers: { ...fromPage(), cookie: cookie! }, body: "{}" });
        return cookie;
      },
      () => [401],
    ],
    ["a read-only session", () => webSession(readonly), (access) => (access === "write" ? [403] : [200, 404])],
  ];
  for (const [who, cookie, expected] of cases) {
    test(`${who}: every route answers as expected`, async () => {
      const c = await cookie();
      const answers = [];
      for (const [method, path, access] of routes) answers.push({ route: `${method} ${path}`, status: await call(method, path, c), ok: expected(access) });
      expect(answers.filter((a) => !a.ok.includes(a.status)).map((a) => `${a.route}: ${a.status}`)).toEqual([]);
    });
  }

  test("the join token and wrong tokens cannot sign in; sign-out needs no session", async () => {
    expect(await webSession(join_)).toBeUndefined();
    expect(await webSession(revoked)).toBeUndefined();
    expect(await webSession("tessera-admin-not-a-real-token")).toBeUndefined();
    expect(await call("DELETE", "/api/session", undefined)).toBe(200);
  });

  test("an admin session reaches every route (a missing node or workload is 404, not a refusal)", async () => {
    const c = await webSession(admin);
    const answers = [];
    for (const [method, path] of routes) answers.push(`${method} ${path}: ${await call(method, path, c)}`);
    expect(answers.filter((a) => !/: (200|404)$/.test(a))).toEqual([]);
  });
});

/** Opens an agent stream with a certificate and sends hello for `node`; resolves with the outcome. */
/**
 * Sends a hello as `node`: resolves with the code the stream is refused with, or OK once the
 * control plane recorded this very hello (the node's last heartbeat is no older than it).
 */
function hello(creds: ChannelCredentials, node: string): Promise<status> {
  const c = new AgentGatewayClient(cp.address, creds, CHANNEL_OPTIONS);
  const reader = client(admin);
  const stream: ClientDuplexStream<AgentMessage, ControlMessage> = c.connect();
  let settled = false;
  const done = (code: status) => {
    settled = true;
    stream.cancel();
    c.close();
    reader.close();
    return code;
  };
  const refused = new Promise<status>((resolve) => stream.on("error", (e: { code: status }) => resolve(e.code)));
  stream.on("data", () => {});
  const sentAt = Date.now();
  stream.write(bareHello(node));
  // Stops polling once the stream was refused (its answer is then the refusal).
  const recorded = eventually(`the hello of ${node} recorded`, () =>
    settled
      ? status.CANCELLED
      : new Promise<status | undefined>((resolve) =>
          reader.getNode({ name: node }, (e, res) => resolve(!e && res.node?.lastHeartbeat && res.node.lastHeartbeat.getTime() >= sentAt - 1 ? status.OK : undefined)),
        ),
  );
  return Promise.race([refused, recorded]).then(done);
}

describe("agents and enrollment", () => {
  test("enrollment needs the join token; the CA hash pins the control plane", async () => {
    const badToken = new NodeCredentials(mkdtempSync(join(tmpdir(), "tessera-node-")), "node-x", cp.address, { caPem: ca.toString(), joinToken: "wrong" });
    await expect(badToken.ensure(Date.now())).rejects.toThrow(/UNAUTHENTICATED.*join token is not valid/);
    const badHash = new NodeCredentials(mkdtempSync(join(tmpdir(), "tessera-node-")), "node-x", cp.address, { caHash: "sha256:00", joinToken: join_ });
    await expect(badHash.ensure(Date.now())).rejects.toThrow(/CA is sha256:[0-9a-f]{64}, not the expected sha256:00/);
  });

  test("happy path over mTLS; a node cannot speak for another; no or an expired certificate is refused", async () => {
    const nodeDir = mkdtempSync(join(tmpdir(), "tessera-node-"));
    const { caHashOf } = await import("../../src/shell/ca-hash.js");
    const creds = new NodeCredentials(nodeDir, "node-a", cp.address, { caHash: caHashOf(ca.toString()), joinToken: join_ });
    const id = await creds.ensure(Date.now());
    const mtls = credentials.createSsl(ca, Buffer.from(id.keyPem), Buffer.from(id.certPem));
    expect(await hello(mtls, "node-a")).toBe(status.OK);
    expect(await hello(mtls, "node-b")).toBe(status.PERMISSION_DENIED);
    expect(await hello(credentials.createSsl(ca), "node-a")).toBe(status.UNAUTHENTICATED);

    // An expired certificate for node-a, signed by the right CA.
    const pki = await Pki.open(dir, []);
    const keys = await generateNodeKey();
    const old = await pki.issue("CN=node-a", ["node-a"], 86_400_000, "client", keys.publicKeyPem, Date.now() - 3 * 86_400_000);
    expect(await hello(credentials.createSsl(ca, Buffer.from(keys.keyPem), Buffer.from(old.certPem)), "node-a")).toBe(status.UNAUTHENTICATED);

    // Renewal: the node's own certificate can re-enroll itself, not another node.
    const renewed = await creds.enroll(id);
    expect(renewed.certPem).not.toBe(id.certPem);
    const enroll = new EnrollmentClient(cp.address, mtls, CHANNEL_OPTIONS);
    const code = await new Promise<status>((r) => enroll.enroll({ node: "node-b", publicKeyPem: keys.publicKeyPem }, (e) => r(e ? (e.code as status) : status.OK)));
    enroll.close();
    expect(code).toBe(status.PERMISSION_DENIED);
    rmSync(nodeDir, { recursive: true, force: true });
  });

  test("only a node's current certificate connects and renews: a renewed one replaces it once used; one this CA signed outside enrollment is refused (#27)", async () => {
    const nodeDir = mkdtempSync(join(tmpdir(), "tessera-node-"));
    const creds = new NodeCredentials(nodeDir, "node-c", cp.address, { caPem: ca.toString(), joinToken: join_ });
    const mtlsOf = (id: { keyPem: string; certPem: string }) => credentials.createSsl(ca, Buffer.from(id.keyPem), Buffer.from(id.certPem));
    const first = await creds.ensure(Date.now());
    expect(await hello(mtlsOf(first), "node-c")).toBe(status.OK);
    const second = await creds.enroll(first);
    // Until the renewed certificate is used, the one before still works (its answer may have been lost).
    expect(await hello(mtlsOf(first), "node-c")).toBe(status.OK);
    expect(await hello(mtlsOf(second), "node-c")).toBe(status.OK);
    expect(await hello(mtlsOf(first), "node-c")).toBe(status.UNAUTHENTICATED);
    await expect(creds.enroll(first)).rejects.toThrow(/UNAUTHENTICATED.*not node node-c's current one/);

    // Signed by the CA (its key stolen, or a certificate kept from before), never recorded.
    const pki = await Pki.open(dir, []);
    const keys = await generateNodeKey();
    const forged = await pki.issue("CN=node-c", ["node-c"], 86_400_000, "client", keys.publicKeyPem);
    expect(await hello(credentials.createSsl(ca, Buffer.from(keys.keyPem), Buffer.from(forged.certPem)), "node-c")).toBe(status.UNAUTHENTICATED);
    expect(await hello(mtlsOf(second), "node-c")).toBe(status.OK);
    rmSync(nodeDir, { recursive: true, force: true });
  });
});
