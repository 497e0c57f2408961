/**
 * The authorization matrix on a standby (issue 20), two control planes on one PostgreSQL
 * database with TLS: for reads the standby checks tokens against the state it follows as the
 * leader does (no credentials UNAUTHENTICATED, a join token PERMISSION_DENIED) and answers
 * from that state. Changes, Logs and Exec (the agents' streams are the leader's) are not served
 * there at all: refused UNAVAILABLE naming the leader before a token or the request is looked
 * at (a standby behind must not answer NOT_FOUND for what the leader holds), as every call is
 * before a standby has a state; nothing of them happens.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { type RunningControlPlane, startControlPlane } from "../../src/control/lifecycle/server.js";
import { type ControlPlaneMethod, METHOD_ACCESS } from "../../src/core/access/authz.js";
import type { Logger } from "../../src/shell/logger.js";
import { ControlPlaneClient, TokenKind } from "../../src/gen/tessera/v1/control_plane.js";
import { CHANNEL_OPTIONS } from "../../src/shell/control-channel.js";
import { spec } from "../core/fixtures.js";
import { eventually } from "../e2e/harness.js";
import { type PostgresServer, postgresSuite } from "../e2e/postgres-server.js";
import { invoke, withToken } from "./authz-calls.js";

const pg = postgresSuite("authorization on a standby");
const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };
let server: PostgresServer | undefined;
let dir: string;
let leader: RunningControlPlane;
let standby: RunningControlPlane;
let ca: Buffer;
let admin: string;
let readonly: string;
let join_: string;

const client = (address: string, token?: string) => new ControlPlaneClient(address, withToken(ca, token), CHANNEL_OPTIONS);

/** Resolves with the call's status code and details. */
function listWorkloads(c: ControlPlaneClient): Promise<{ code: status; details: string; names: string[] }> {
  return new Promise((resolve) =>
    c.listWorkloads({ pageSize: 0, pageToken: "" }, (e, res) => resolve(e ? { code: e.code, details: e.details, names: [] } : { code: status.OK, details: "", names: res.workloads.map((w) => w.name) })),
  );
}

beforeAll(async () => {
  if (pg.skip) return;
  server = await pg.start();
  const url = await server.createDatabase("standby_authz");
  dir = mkdtempSync(join(tmpdir(), "tessera-standby-authz-"));
  const common = { listen: "127.0.0.1:0", store: url, caSecret: "standby authz test CA secret", log: silent, tickMs: 200, metricsListen: "", lease: { ttlMs: 3_000, renewMs: 500 } };
  leader = await startControlPlane({ ...common, dataDir: join(dir, "a") });
  ca = readFileSync(join(dir, "a", "pki", "ca.pem"));
  // The tokens are issued once it leads.
  await eventually("the first leads and issues its tokens", () => (existsSync(join(dir, "a", "join-token")) ? true : undefined));
  admin = readFileSync(join(dir, "a", "admin-token"), "utf8").trim();
  join_ = readFileSync(join(dir, "a", "join-token"), "utf8").trim();
  const a = client(leader.address, admin);
  await eventually("the first answers", async () => ((await listWorkloads(a)).code === status.OK ? true : undefined));
  readonly = await new Promise<string>((r, j) => a.createToken({ kind: TokenKind.TOKEN_KIND_READONLY, ttlMs: 0, uses: 0 }, (e, res) => (e ? j(e) : r(res.token))));
  a.close();
  standby = await startControlPlane({ ...common, dataDir: join(dir, "b") });
  // It answers reads once it follows a state holding the token just created.
  const b = client(standby.address, readonly);
  await eventually("the standby answers reads", async () => ((await listWorkloads(b)).code === status.OK ? true : undefined));
  b.close();
});
afterAll(async () => {
  await standby?.stop();
  await leader?.stop();
  server?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("ControlPlane API on a standby", () => {
  const methods = Object.keys(METHOD_ACCESS) as ControlPlaneMethod[];
  /** Not served on a standby: refused naming the leader whoever calls. */
  const leaderOnly = (m: ControlPlaneMethod) => m === "Logs" || METHOD_ACCESS[m] === "write";
  const reads = [status.OK, status.NOT_FOUND, status.DEADLINE_EXCEEDED];
  const cases: Array<[string, () => string | undefined, (m: ControlPlaneMethod) => status[]]> = [
    ["no credentials", () => undefined, (m) => (leaderOnly(m) ? [status.UNAVAILABLE] : [status.UNAUTHENTICATED])],
    ["a wrong token", () => "tessera-admin-not-a-real-token", (m) => (leaderOnly(m) ? [status.UNAVAILABLE] : [status.UNAUTHENTICATED])],
    ["the join token", () => join_, (m) => (leaderOnly(m) ? [status.UNAVAILABLE] : [status.PERMISSION_DENIED])],
    ["a read-only token", () => readonly, (m) => (leaderOnly(m) ? [status.UNAVAILABLE] : reads)],
    ["the admin token", () => admin, (m) => (leaderOnly(m) ? [status.UNAVAILABLE] : reads)],
  ];
  for (const [who, token, expected] of cases) {
    test.skipIf(pg.skip)(`${who}: reads answered as the leader would; changes, Logs and Exec refused naming the leader`, async () => {
      const c = client(standby.address, token());
      const answers = [];
      for (const m of methods) answers.push({ method: m, code: await invoke(c, m) });
      expect(answers.filter((a) => !expected(a.method).includes(a.code)).map((a) => `${a.method}: ${status[a.code]}`)).toEqual([]);
      c.close();
    });
  }

  test.skipIf(pg.skip)("a change refused on the standby names the leader and did not happen; made on the leader, the standby shows it", async () => {
    const b = client(standby.address, admin);
    // Of something the standby does not hold: refused naming the leader all the same, not NOT_FOUND.
    const restart = await new Promise<{ code: status; details: string }>((resolve) => b.restartWorkload({ name: "unknown-here" }, (e) => resolve(e ? { code: e.code, details: e.details } : { code: status.OK, details: "" })));
    expect(restart.code).toBe(status.UNAVAILABLE);
    expect(restart.details).toStartWith(`not the leader; the leader is at ${leader.address}`);
    const refused = await new Promise<{ code: status; details: string }>((resolve) =>
      b.applyWorkload({ workload: { name: "through-b", labels: {}, spec: spec(), generation: 0 } }, (e) => resolve(e ? { code: e.code, details: e.details } : { code: status.OK, details: "" })),
    );
    expect(refused).toEqual({ code: status.UNAVAILABLE, details: expect.stringMatching(new RegExp(`^not the leader; the leader is at ${leader.address} \\(epoch \\d+\\)$`)) });
    const a = client(leader.address, admin);
    expect((await listWorkloads(a)).names).not.toContain("through-b");
    await new Promise<void>((r, j) => a.applyWorkload({ workload: { name: "on-a", labels: {}, spec: spec(), generation: 0 } }, (e) => (e ? j(e) : r())));
    await eventually("the standby shows the leader's change", async () => ((await listWorkloads(b)).names.includes("on-a") ? true : undefined), 5_000);
    a.close();
    b.close();
  });
});
