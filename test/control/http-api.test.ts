/**
 * The HTTP/JSON API (issue 34), against a real control plane with TLS and tokens: every unary
 * RPC of the proto has a route and answers over HTTP, under the same authorization matrix as
 * gRPC (test/control/authz.test.ts); proto3 JSON in and out through the same reader as
 * `tessera ctl` (the same refusals); errors as google.rpc.Status with google.rpc.Code's HTTP
 * statuses; paging by page_size and page_token.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { parseWorkload } from "../../cli/manifest.js";
import { httpRoutes } from "../../src/control/http/http-routes.js";
import { type RunningControlPlane, startControlPlane } from "../../src/control/lifecycle/server.js";
import { type ControlPlaneMethod, METHOD_ACCESS } from "../../src/core/access/authz.js";
import type { Logger } from "../../src/shell/logger.js";
import { protoRegistry } from "../../src/shell/proto-json.js";
import { invokeHttp, routeOf } from "./http-calls.js";

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };
let cp: RunningControlPlane;
let dir: string;
let admin: string;
let readonly: string;
let join_: string;
const base = () => `http://${cp.httpAddress}`;
const authorized = (token = admin) => ({ authorization: `Bearer ${token}`, "content-type": "application/json" });

/** Every unary RPC of the ControlPlane service, as the proto declares it. */
const unary = protoRegistry()
  .getService("tessera.v1.ControlPlane")!
  .methods.filter((m) => m.methodKind === "unary")
  .map((m) => m.name as ControlPlaneMethod);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tessera-http-api-"));
  cp = await startControlPlane({ listen: "127.0.0.1:0", dataDir: dir, log: silent, tickMs: 200, metricsListen: "127.0.0.1:0" });
  admin = readFileSync(join(dir, "admin-token"), "utf8").trim();
  join_ = readFileSync(join(dir, "join-token"), "utf8").trim();
  const created = await invokeHttp(base(), admin, "CreateToken");
  expect(created.status).toBe(200);
  readonly = created.json.token as string;
});
afterAll(async () => {
  await cp.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("routes from the proto", () => {
  test("every unary RPC has a route; streaming RPCs have none (the event stream serves Watch)", () => {
    expect(unary.filter((m) => !routeOf(m))).toEqual([]);
    expect(httpRoutes().filter((r) => r.rpc.methodKind !== "unary").map((r) => r.rpc.name)).toEqual([]);
    expect(new Set([...unary, "Watch", "WatchEndpoints", "Logs", "Exec", "SaveSnapshot"])).toEqual(new Set(Object.keys(METHOD_ACCESS)));
  });
});

describe("the authorization matrix over HTTP", () => {
  const cases: Array<[string, () => string | undefined, (m: ControlPlaneMethod) => number[]]> = [
    ["no credentials", () => undefined, () => [401]],
    ["a wrong token", () => "tessera-admin-not-a-real-token", () => [401]],
    ["the join token", () => join_, () => [403]],
    ["a read-only token", () => readonly, (m) => (METHOD_ACCESS[m] === "write" ? [403] : [200, 404])],
  ];
  for (const [who, token, expected] of cases) {
    test(`${who}: every route answers as over gRPC`, async () => {
      const answers = [];
      for (const m of unary) answers.push({ method: m, ...(await invokeHttp(base(), token(), m)) });
      expect(answers.filter((a) => !expected(a.method).includes(a.status)).map((a) => `${a.method}: ${a.status} ${JSON.stringify(a.json)}`)).toEqual([]);
      // google.rpc.Status: a numeric code that maps to the HTTP status, a message, details.
      for (const a of answers.filter((x) => x.status !== 200)) expect(Object.keys(a.json).sort()).toEqual(["code", "details", "message"]);
    });
  }

  test("nothing the refused calls tried happened; the admin token reaches every route without a server error", async () => {
    expect((await invokeHttp(base(), admin, "ListWorkloads")).json).toEqual({});
    const answers = [];
    for (const m of unary.filter((x) => x !== "RotateToken")) answers.push({ method: m, ...(await invokeHttp(base(), admin, m)) });
    // 400: FAILED_PRECONDITION (nothing to roll back, promote or lift) and the absent node.
    expect(answers.filter((a) => ![200, 400, 404].includes(a.status)).map((a) => `${a.method}: ${a.status} ${JSON.stringify(a.json)}`)).toEqual([]);
    expect(answers.find((a) => a.method === "ApplyWorkload")!.status).toBe(200);
  });
});

describe("proto3 JSON in and out", () => {
  const manifest = { name: "web", labels: { tier: "front" }, spec: { command: "/bin/sleep", args: ["1000"], replicas: 2, resources: { cpuMillis: 100, memoryMb: 64 } } };

  test("PUT /v1/workloads/{name} takes the manifest `ctl apply -f` reads; GET, history, rollback, DELETE follow", async () => {
    const put = await fetch(`${base()}/v1/workloads/web`, { method: "PUT", headers: authorized(), body: JSON.stringify(manifest) });
    expect(put.status).toBe(200);
    const applied = (await put.json()) as { workload: { name: string; generation: string }; changed: boolean };
    expect([applied.workload.name, applied.workload.generation, applied.changed]).toEqual(["web", "1", true]);
    const got = (await (await fetch(`${base()}/v1/workloads/web`, { headers: authorized(readonly) })).json()) as { workload: { labels: Record<string, string> } };
    expect(got.workload.labels).toEqual({ tier: "front" });
    const history = (await (await fetch(`${base()}/v1/workloads/web/history?page_size=1`, { headers: authorized() })).json()) as { events: unknown[]; nextPageToken?: string };
    expect(history.events.length).toBe(1);
    // Nothing to roll back to: FAILED_PRECONDITION, which google.rpc.Code maps to 400.
    const undo = await fetch(`${base()}/v1/workloads/web:rollback`, { method: "POST", headers: authorized() });
    expect([undo.status, ((await undo.json()) as { code: number }).code]).toEqual([400, status.FAILED_PRECONDITION]);
    expect((await fetch(`${base()}/v1/workloads/web`, { method: "DELETE", headers: authorized() })).status).toBe(200);
  });

  test("a manifest is refused with the words `tessera ctl` uses, naming the field", async () => {
    const bad = [
      { name: "bad", spec: { command: "/bin/sleep", bogus: 1 } },
      { name: "bad", spec: { command: "/bin/sleep", replicas: "many" } },
      { name: "bad", spec: { command: "/bin/sleep", restartPolicy: "sometimes" } },
    ];
    for (const m of bad) {
      let ctl = "";
      try {
        parseWorkload(m, "x");
      } catch (err) {
        ctl = (err as Error).message.replace(/^x: /, "");
      }
      expect(ctl).not.toBe("");
      const res = await fetch(`${base()}/v1/workloads/bad`, { method: "PUT", headers: authorized(), body: JSON.stringify(m) });
      expect([res.status, await res.json()]).toEqual([400, { code: status.INVALID_ARGUMENT, message: ctl, details: [] }]);
    }
    expect((await invokeHttp(base(), admin, "GetWorkload", { name: "bad" })).status).toBe(404);
  });

  test("short enum names and Go durations are read as ctl reads them; the path names the workload", async () => {
    const m = { spec: { command: "/bin/sleep", args: ["1000"], replicas: 1, update: { minHealthyTime: "1m30s" } } };
    const res = await fetch(`${base()}/v1/workloads/short`, { method: "PUT", headers: authorized(), body: JSON.stringify(m) });
    expect(res.status).toBe(200);
    const { workload } = (await res.json()) as { workload: { name: string; spec: { update: { minHealthyTime: string } } } };
    expect([workload.name, workload.spec.update.minHealthyTime]).toEqual(["short", "90s"]);
  });

  test("a body naming another workload than the path is refused naming both; the same name is fine", async () => {
    const res = await fetch(`${base()}/v1/workloads/one`, { method: "PUT", headers: authorized(), body: JSON.stringify({ ...manifest, name: "other" }) });
    expect([res.status, ((await res.json()) as { message: string }).message]).toEqual([400, 'workload.name: the path says "one", the request "other"']);
    expect((await invokeHttp(base(), admin, "GetWorkload", { name: "other" })).status).toBe(404);
    const same = await fetch(`${base()}/v1/workloads/web`, { method: "PUT", headers: authorized(), body: JSON.stringify(manifest) });
    expect(same.status).toBe(200);
  });

  test("paging by page_size and page_token visits every workload once", async () => {
    for (const name of ["p-1", "p-2", "p-3"]) expect((await fetch(`${base()}/v1/workloads/${name}`, { method: "PUT", headers: authorized(), body: JSON.stringify(manifest.spec ? { spec: manifest.spec } : {}) })).status).toBe(200);
    const seen: string[] = [];
    let token = "";
    do {
      const res = await fetch(`${base()}/v1/workloads?page_size=2${token ? `&page_token=${encodeURIComponent(token)}` : ""}`, { headers: authorized(readonly) });
      const page = (await res.json()) as { workloads: Array<{ name: string }>; nextPageToken?: string };
      expect(page.workloads.length).toBeLessThanOrEqual(2);
      seen.push(...page.workloads.map((w) => w.name));
      token = page.nextPageToken ?? "";
    } while (token);
    expect(seen).toEqual([...new Set(seen)].sort());
    expect(seen).toEqual(expect.arrayContaining(["p-1", "p-2", "p-3"]));
    const bad = await fetch(`${base()}/v1/workloads?page_size=-1`, { headers: authorized() });
    expect([bad.status, ((await bad.json()) as { message: string }).message]).toEqual([400, expect.stringContaining("page_size")]);
  });

  test("unknown paths, query parameters and methods are refused as JSON naming them", async () => {
    const cases: Array<[string, string, number, string]> = [
      ["GET", "/v1/nowhere", 404, "/v1/nowhere"],
      ["GET", "/v1/workloads?colour=red", 400, "colour"],
      ["PATCH", "/v1/workloads/web", 405, "PATCH"],
      ["POST", "/v1/workloads:batchApply", 400, "body"],
    ];
    for (const [method, path, code, names] of cases) {
      const res = await fetch(`${base()}${path}`, { method, headers: authorized(), body: method === "POST" ? "[1" : undefined });
      expect([method, path, res.status, ((await res.json()) as { message: string }).message]).toEqual([method, path, code, expect.stringContaining(names)]);
    }
  });

  test("a page of another site is refused before any route; curl (no Origin) is not", async () => {
    const res = await fetch(`${base()}/v1/workloads`, { headers: { ...authorized(), origin: "https://evil.example" } });
    expect(res.status).toBe(403);
    const rebound = await fetch(`${base()}/v1/workloads`, { headers: { ...authorized(), host: "evil.example" } });
    expect(rebound.status).toBe(403);
    expect((await fetch(`${base()}/v1/workloads`, { headers: authorized() })).status).toBe(200);
  });
});
