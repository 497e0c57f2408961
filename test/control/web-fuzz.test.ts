/**
 * Fuzzing the web page's API in process: random methods, paths, cookies, headers and bodies,
 * signed in as an admin. No answer is a 5xx, every answer carries the page's security headers,
 * and a request that does not come from the page itself (its Origin, a JSON body, a Host the
 * control plane serves as) changes nothing, whatever else it carries.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { type RunningControlPlane, startControlPlane } from "../../src/control/lifecycle/server.js";
import type { Logger } from "../../src/shell/logger.js";
import { ControlPlaneClient } from "../../src/gen/tessera/v1/control_plane.js";
import { CHANNEL_OPTIONS } from "../../src/shell/control-channel.js";
import { spec } from "../core/fixtures.js";
import { withToken } from "./authz-calls.js";

const SEED = Number(process.env.TESSERA_FUZZ_SEED ?? 424242);
console.log(`fuzz seed ${SEED} (TESSERA_FUZZ_SEED to change)`);
const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };

let cp: RunningControlPlane;
let dir: string;
let web: string;
let cookie: string;
let client: ControlPlaneClient;

/** The newest event's sequence number: any change the fuzz made shows as a later one. */
const newestSeq = () =>
  new Promise<number>((resolve, reject) =>
    client.getHistory({ workload: "keep", limit: 1, pageSize: 0, pageToken: "" }, (e, res) => (e ? reject(e) : resolve(Number(res.events.at(-1)?.sequence ?? 0)))),
  );

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tessera-web-fuzz-"));
  cp = await startControlPlane({ listen: "127.0.0.1:0", dataDir: dir, log: silent, tickMs: 60_000, metricsListen: "127.0.0.1:0" });
  web = `http://${cp.httpAddress}`;
  const token = readFileSync(join(dir, "admin-token"), "utf8").trim();
  client = new ControlPlaneClient(cp.address, withToken(readFileSync(join(dir, "pki", "ca.pem")), token), CHANNEL_OPTIONS);
  await new Promise((r, j) => client.applyWorkload({ workload: { name: "keep", labels: {}, spec: spec(), generation: 0 }, force: false }, (e, res) => (e ? j(e) : r(res))));
  const res = await fetch(`${web}/api/session`, { method: "POST", headers: { origin: web, "content-type": "application/json" }, body: JSON.stringify({ token }) });
  cookie = res.headers.get("set-cookie")!.split(";")[0]!;
});
afterAll(async () => {
  client.close();
  await cp.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The API's paths (the page itself is a bundle when run from source: its guard is proven through the binary, test/e2e/web.test.ts). */
const paths = fc.oneof(
  fc.constantFrom("/api/session", "/api/events", "/api/history?workload=keep", "/api/at?seq=1", "/api/logs?copy=keep-0.1", "/api/logs?copy=keep-0.1&previous=1", "/api/workloads/keep/restart", "/api/workloads/keep/delete", "/api/workloads/keep/undo", "/api/workloads/keep/promote", "/api/workloads/keep/pause", "/api/workloads/keep", "/api/nodes/n1", "/api/top", "/api/log?after=0", "/api/nodes/n1/cordon", "/api/nowhere"),
  fc.string({ maxLength: 40 }).map((s) => `/api/${encodeURIComponent(s)}`),
  fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 })).map(([a, b]) => `/api/workloads/${encodeURIComponent(a)}/${encodeURIComponent(b)}`),
);
const garbage = fc.string({ maxLength: 60 }).filter((s) => /^[\x20-\x7e]*$/.test(s));
/** Requests that are not the page's own change: a foreign or missing Origin, a type that is not JSON, or a rebound Host. */
const foreign = fc.oneof(
  fc.record({ origin: fc.constantFrom("http://evil.example", "null", "http://127.0.0.1:1", "https://127.0.0.1"), type: fc.constant("application/json"), host: fc.constant(undefined) }),
  fc.record({ origin: fc.constant("page"), type: fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""), host: fc.constant(undefined) }),
  fc.record({ origin: fc.constant("page"), type: fc.constant("application/json"), host: fc.constantFrom("evil.example", "127.evil.example", "localhost.evil.example:1") }),
);

test("foreign changes, with an admin's cookie and any method, path and body, change nothing and never answer 5xx", async () => {
  const before = await newestSeq();
  await fc.assert(
    fc.asyncProperty(fc.constantFrom("POST", "DELETE", "PUT", "PATCH"), paths, foreign, garbage, async (method, path, f, body) => {
      const headers: Record<string, string> = { cookie };
      if (f.origin !== undefined) headers.origin = f.origin === "page" ? web : f.origin;
      if (f.type !== "") headers["content-type"] = f.type;
      if (f.host !== undefined) headers.host = f.host;
      const res = await fetch(`${web}${path}`, { method, headers, body });
      await res.body?.cancel();
      expect(res.status).toBeLessThan(500);
      expect([403, 404, 405, 415]).toContain(res.status);
      expect(res.headers.get("content-security-policy") ?? "").toContain("frame-ancestors 'none'");
    }),
    { seed: SEED, numRuns: 150 },
  );
  expect(await newestSeq()).toBe(before);
});

test("random cookies, queries and bodies from the page itself are answered, never with a 5xx or a stack trace", async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom("GET", "POST", "DELETE"), paths, garbage, garbage, async (method, path, cookieValue, body) => {
      const headers: Record<string, string> = { cookie: `tessera_session=${cookieValue}`, origin: web, "content-type": "application/json" };
      const res = await fetch(`${web}${path}`, { method, headers, body: method === "GET" ? undefined : body });
      const text = res.headers.get("content-type")?.includes("event-stream") ? "" : await res.text();
      await res.body?.cancel().catch(() => {});
      expect(res.status).toBeLessThan(500);
      expect(text).not.toContain("    at ");
    }),
    { seed: SEED, numRuns: 150 },
  );
});

test("the page's undo names a bad revision, refuses one the log does not hold, and reads a workload and the fleet's log", async () => {
  const post = (body: string) => fetch(`${web}/api/workloads/keep/undo`, { method: "POST", headers: { cookie, origin: web, "content-type": "application/json" }, body });
  const bad = await post(JSON.stringify({ revision: "two" }));
  expect([bad.status, await bad.json()]).toEqual([400, { error: "revision: expected a whole number from 1" }]);
  const unknown = await post(JSON.stringify({ revision: 99 }));
  expect(unknown.status).toBe(404);
  const read = async (path: string) => (await fetch(`${web}${path}`, { headers: { cookie } })).json();
  const w = (await read("/api/workloads/keep")) as { spec: { command: string }; status: { desired: number } };
  expect(w.spec.command).toBe(spec().command);
  const log = (await read("/api/log?limit=5")) as { events: Array<{ workload: string; type: string }> };
  expect(log.events.some((e) => e.workload === "keep" && e.type === "WorkloadApplied")).toBe(true);
});
