/**
 * Fuzzing every route of the HTTP/JSON API (issue 34), as rpc-fuzz.test.ts fuzzes the gRPC
 * methods: random path variables, query parameters (known and not) and bodies (random JSON,
 * valid requests with a field replaced, bytes that are not JSON), with the admin token and
 * without. Every answer comes before its deadline, is JSON, and is never a server error
 * (INTERNAL or UNKNOWN, HTTP 500); refusals are google.rpc.Status. The server keeps answering.
 *
 * Seeded: TESSERA_FUZZ_SEED=N runs another sequence, TESSERA_FUZZ_RUNS=N more calls per route.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { type HttpRoute, httpRoutes } from "../../src/control/http/http-routes.js";
import { type RunningControlPlane, startControlPlane } from "../../src/control/lifecycle/server.js";
import type { ControlPlaneMethod } from "../../src/core/access/authz.js";
import type { Logger } from "../../src/shell/logger.js";
import { MINIMAL_REQUESTS } from "./authz-calls.js";
import { restOf } from "./http-calls.js";

const SEED = Number(process.env.TESSERA_FUZZ_SEED ?? 20_261_206);
console.log(`http-fuzz seed ${SEED} (TESSERA_FUZZ_SEED=N for another sequence)`);
const RUNS = Number(process.env.TESSERA_FUZZ_RUNS ?? 60);
const DEADLINE_MS = 3_000;

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };
let cp: RunningControlPlane;
let dir: string;
let admin: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tessera-http-fuzz-"));
  cp = await startControlPlane({ listen: "127.0.0.1:0", dataDir: dir, log: silent, tickMs: 200, metricsListen: "127.0.0.1:0" });
  admin = readFileSync(join(dir, "admin-token"), "utf8").trim();
});
afterAll(async () => {
  await cp.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A valid request's body for a route, as JSON, to mutate. */
function validBody(route: HttpRoute): unknown {
  const { body } = restOf(route, MINIMAL_REQUESTS[route.rpc.name as ControlPlaneMethod]);
  return body === undefined ? {} : JSON.parse(body);
}

/** Replaces one value somewhere in a JSON value with `replacement`. */
function mutate(json: unknown, pick: number, replacement: unknown): unknown {
  if (typeof json !== "object" || json === null) return replacement;
  const keys = Object.keys(json);
  if (keys.length === 0) return replacement;
  const key = keys[pick % keys.length]!;
  const copy = (Array.isArray(json) ? [...json] : { ...json }) as Record<string, unknown>;
  copy[key] = pick % 3 === 0 ? replacement : mutate(copy[key], Math.floor(pick / 3), replacement);
  return copy;
}

const segment = fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom("web", "-", "..", "a".repeat(300), "%", "web:rollback", "\u0000", "😀"));
const queryValue = fc.oneof(fc.string({ maxLength: 40 }), fc.integer().map(String), fc.constantFrom("true", "false", "-1", "1e999", "NaN", "TOKEN_KIND_ADMIN", "9007199254740993"));

function requestFor(route: HttpRoute) {
  const fields = route.rpc.input.fields.flatMap((f) => [f.name, f.jsonName]);
  return fc.record({
    vars: fc.array(segment, { minLength: route.segments.length, maxLength: route.segments.length }),
    query: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...fields, "x"), fc.string({ maxLength: 10 })), queryValue), { maxLength: 4 }),
    body: fc.oneof(
      fc.jsonValue(),
      fc.tuple(fc.nat(), fc.jsonValue()).map(([pick, v]) => mutate(validBody(route), pick, v)),
      fc.constantFrom("{", "", "null", "[]", "\u0000"),
    ),
    token: fc.boolean(),
  });
}

async function send(route: HttpRoute, r: { vars: string[]; query: Array<[string, string]>; body: unknown; token: boolean }) {
  let v = 0;
  const path = route.segments.map((s) => ("literal" in s ? s.literal : encodeURIComponent(r.vars[v++]!))).join("/");
  const query = new URLSearchParams(r.query).toString();
  const url = `http://${cp.httpAddress}/${path}${route.verb ? `:${route.verb}` : ""}${query ? `?${query}` : ""}`;
  const body = route.method === "GET" || route.method === "DELETE" ? undefined : typeof r.body === "string" ? r.body : JSON.stringify(r.body);
  const headers = { "content-type": "application/json", ...(r.token ? { authorization: `Bearer ${admin}` } : {}) };
  const res = await fetch(url, { method: route.method, headers, body, signal: AbortSignal.timeout(DEADLINE_MS) });
  return { url, status: res.status, json: (await res.json()) as { code?: number; message?: string } };
}

// Token rotation would lock the fuzzer out mid-run; CreateToken mints tokens, harmless.
const routes = httpRoutes().filter((r) => r.rpc.name !== "RotateToken");

test(
  "every route: random requests are answered in time, as JSON, never with a server error",
  async () => {
    const bad: string[] = [];
    const statuses = new Set<number>();
    for (const route of routes) {
      await fc.assert(
        fc.asyncProperty(requestFor(route), async (r) => {
          const a = await send(route, r);
          statuses.add(a.status);
          if (a.status >= 500 || (a.status !== 200 && (typeof a.json.code !== "number" || typeof a.json.message !== "string"))) bad.push(`${route.method} ${a.url}: ${a.status} ${JSON.stringify(a.json)}`);
        }),
        { seed: SEED, numRuns: RUNS },
      );
    }
    expect(bad).toEqual([]);
    // It reached the handlers (some calls succeeded) as well as the refusals.
    expect([...statuses].sort()).toEqual(expect.arrayContaining([200, 400, 401, 404]));
    const alive = await fetch(`http://${cp.httpAddress}/v1/workloads`, { headers: { authorization: `Bearer ${admin}` } });
    expect(alive.status).toBe(200);
  },
  120_000,
);
