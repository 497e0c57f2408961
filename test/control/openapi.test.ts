/**
 * The OpenAPI 3 document of the HTTP/JSON API (issue 34): generated from the proto at build
 * time, served at /v1/openapi.json, valid by @apidevtools/swagger-parser, one operation per
 * route of the proto, and usable: a client that knows only the document lists workloads.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SwaggerParser from "@apidevtools/swagger-parser";
import { httpRoutes } from "../../src/control/http/http-routes.js";
import { type RunningControlPlane, startControlPlane } from "../../src/control/lifecycle/server.js";
import type { Logger } from "../../src/shell/logger.js";

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };
let cp: RunningControlPlane;
let dir: string;
let admin: string;

type Operation = { operationId: string; parameters: Array<{ name: string; in: string }> };
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> };
let doc: Doc;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tessera-openapi-"));
  cp = await startControlPlane({ listen: "127.0.0.1:0", dataDir: dir, log: silent, tickMs: 200, metricsListen: "127.0.0.1:0" });
  admin = readFileSync(join(dir, "admin-token"), "utf8").trim();
  const res = await fetch(`http://${cp.httpAddress}/v1/openapi.json`);
  expect([res.status, res.headers.get("content-type")]).toEqual([200, "application/json"]);
  doc = (await res.json()) as Doc;
});
afterAll(async () => {
  await cp.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("the served document is valid OpenAPI 3", async () => {
  expect(doc.openapi).toStartWith("3.");
  // validate() dereferences in place: it gets a copy.
  await SwaggerParser.validate(structuredClone(doc) as never);
});

test("it has one operation per route of the proto, named by its RPC, and the event stream", () => {
  const operations = Object.values(doc.paths).flatMap((p) => Object.values(p).map((o) => o.operationId));
  expect(operations.sort()).toEqual([...httpRoutes().map((r) => r.rpc.name), "StreamEvents"].sort());
});

test("a client that knows only the document lists workloads", async () => {
  const put = Object.entries(doc.paths).find(([, p]) => p.put?.operationId === "ApplyWorkload")!;
  const list = Object.entries(doc.paths).find(([, p]) => p.get?.operationId === "ListWorkloads")!;
  const headers = { authorization: `Bearer ${admin}`, "content-type": "application/json" };
  const base = `http://${cp.httpAddress}`;
  const applied = await fetch(`${base}${put[0].replace(`{${put[1].put!.parameters[0]!.name}}`, "from-openapi")}`, {
    method: "PUT",
    headers,
    body: JSON.stringify({ spec: { command: "/bin/sleep", args: ["1000"], replicas: 1 } }),
  });
  expect(applied.status).toBe(200);
  const res = await fetch(`${base}${list[0]}?${list[1].get!.parameters.find((p) => p.name === "page_size")!.name}=10`, { headers });
  expect(((await res.json()) as { workloads: Array<{ name: string }> }).workloads.map((w) => w.name)).toEqual(["from-openapi"]);
});
