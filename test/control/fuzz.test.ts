/**
 * Fuzzing the control plane's gRPC surface in process: random bytes at every method, and
 * well-formed but wrong requests. Every call gets an answer before its deadline, no answer is
 * INTERNAL or UNKNOWN, nothing invalid is applied, and the server stays up throughout.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, credentials, Metadata, status } from "@grpc/grpc-js";
import fc from "fast-check";
import { type RunningControlPlane, startControlPlane } from "../../src/control/lifecycle/server.js";
import type { Logger } from "../../src/shell/logger.js";
import { AgentGatewayService } from "../../src/gen/tessera/v1/agent_gateway.js";
import { ControlPlaneClient, ControlPlaneService } from "../../src/gen/tessera/v1/control_plane.js";
import type { Workload } from "../../src/gen/tessera/v1/types.js";
import { spec } from "../core/fixtures.js";

const SEED = Number(process.env.TESSERA_FUZZ_SEED ?? 424242);
console.log(`fuzz seed ${SEED} (TESSERA_FUZZ_SEED to change)`);
const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };
const DEADLINE_MS = 3_000;

let cp: RunningControlPlane;
let dir: string;
let raw: Client;
let typed: ControlPlaneClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tessera-fuzz-"));
  // The API surface itself; credentials are covered by the authorization matrix.
  cp = await startControlPlane({ listen: "127.0.0.1:0", dataDir: dir, log: silent, tickMs: 200, insecure: true });
  raw = new Client(cp.address, credentials.createInsecure());
  typed = new ControlPlaneClient(cp.address, credentials.createInsecure());
});
afterAll(async () => {
  raw.close();
  typed.close();
  await cp.stop();
  rmSync(dir, { recursive: true, force: true });
});

const identity = (b: Buffer) => b;
const deadline = (ms = DEADLINE_MS) => ({ deadline: new Date(Date.now() + ms) });
/** Watch and Logs may legitimately stay open: they get a short deadline, which counts as an answer. */
const STREAM_DEADLINE_MS = 300;

/** Sends raw bytes to a method; resolves with the status code it answered. */
function sendRaw(path: string, kind: "unary" | "server" | "bidi", bytes: Uint8Array): Promise<status> {
  return new Promise((resolve) => {
    const payload = Buffer.from(bytes);
    if (kind === "unary") {
      raw.makeUnaryRequest(path, identity, identity, payload, new Metadata(), deadline(), (err) => resolve(err ? (err.code as status) : status.OK));
      return;
    }
    const call =
      kind === "server"
        ? raw.makeServerStreamRequest(path, identity, identity, payload, new Metadata(), deadline(STREAM_DEADLINE_MS))
        : raw.makeBidiStreamRequest(path, identity, identity, new Metadata(), deadline());
    if (kind === "bidi") {
      (call as unknown as { write(b: Buffer): void; end(): void }).write(payload);
    }
    call.on("data", () => {});
    call.on("error", (err: { code: status }) => resolve(err.code));
    call.on("end", () => resolve(status.OK));
    if (kind === "bidi") setTimeout(() => (call as unknown as { end(): void }).end(), 50);
  });
}

const methods = [
  ...Object.values(ControlPlaneService).map((m) => ({ path: m.path, kind: m.requestStream ? ("bidi" as const) : m.responseStream ? ("server" as const) : ("unary" as const) })),
  { path: AgentGatewayService.connect.path, kind: "bidi" as const },
];

async function stillServing(): Promise<void> {
  const res = await new Promise<{ workloads: Workload[] }>((resolve, reject) => typed.listWorkloads({ pageSize: 0, pageToken: "" }, new Metadata(), deadline(), (err, r) => (err ? reject(err) : resolve(r))));
  expect(Array.isArray(res.workloads)).toBe(true);
}

describe("random bytes at every method", () => {
  for (const m of methods) {
    test(m.path, async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 256 }), async (bytes) => {
          const code = await sendRaw(m.path, m.kind, bytes);
          expect([status.INTERNAL, status.UNKNOWN]).not.toContain(code);
        }),
        { seed: SEED, numRuns: 60 },
      );
      await stillServing();
    });
  }
});

const wrongSpec = fc.oneof(
  fc.record({ replicas: fc.integer({ min: 10_001, max: 2 ** 31 }) }).map((o) => spec(o)),
  fc.record({ command: fc.constantFrom("", "sleep", "./run", "bin/x") }).map((o) => spec(o)),
  fc.integer({ min: 4, max: 1000 }).map((mode) => spec({ restartPolicy: { mode } })),
  fc.integer({ min: -1_000_000, max: -1 }).map((seconds) => spec({ stopGracePeriod: { seconds, nanos: 0 } })),
  fc.integer({ min: 1_024_001, max: 2 ** 31 }).map((cpuMillis) => spec({ resources: { cpuMillis, memoryMb: 0 } })),
  fc.constantFrom("1BAD", "", "a b", "x=y").map((key) => spec({ env: { [key]: "v" } })),
  fc.constant(spec({ update: { maxSurge: 0, maxUnavailable: 0, waves: [] } })),
  fc.constant(spec({ workingDir: "relative/dir" })),
);
const badName = fc.oneof(fc.constantFrom("", "Web", "web_1", "-web", "web-", "ünïcode", "a".repeat(64)), fc.string({ minLength: 1, maxLength: 80 }).filter((s) => !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(s) || s.length > 63));

function applyAnswer(workload: Workload | undefined): Promise<{ code: status; details: string }> {
  return new Promise((resolve) =>
    typed.applyWorkload({ workload }, new Metadata(), deadline(), (err) => resolve(err ? { code: err.code as status, details: err.details } : { code: status.OK, details: "" })),
  );
}

describe("well-formed but wrong requests", () => {
  test("invalid workloads are refused with INVALID_ARGUMENT naming the field; nothing is applied", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(wrongSpec.map((s) => ({ name: "valid", s })), badName.map((name) => ({ name, s: spec() }))), async ({ name, s }) => {
        const answer = await applyAnswer({ name, labels: {}, spec: s, generation: 0 });
        expect(answer.code).toBe(status.INVALID_ARGUMENT);
        expect(answer.details).toMatch(/^workload\.[a-z_.]+.*: expected /);
      }),
      { seed: SEED, numRuns: 150 },
    );
    expect((await applyAnswer(undefined)).code).toBe(status.INVALID_ARGUMENT);
    expect((await applyAnswer({ name: "nospec", labels: {}, generation: 0 })).details).toBe("workload.spec: expected an object with at least `command` or `image`");
    const res = await new Promise<{ workloads: Workload[] }>((resolve, reject) => typed.listWorkloads({ pageSize: 0, pageToken: "" }, (err, r) => (err ? reject(err) : resolve(r))));
    expect(res.workloads).toEqual([]);
  });

  test("random names to every lookup answer INVALID_ARGUMENT or NOT_FOUND", async () => {
    const lookups: Array<(name: string) => Promise<status>> = [
      (name) => new Promise((r) => typed.getWorkload({ name }, (e) => r(e ? (e.code as status) : status.OK))),
      (name) => new Promise((r) => typed.deleteWorkload({ name }, (e) => r(e ? (e.code as status) : status.OK))),
      (name) => new Promise((r) => typed.restartWorkload({ name }, (e) => r(e ? (e.code as status) : status.OK))),
      (name) => new Promise((r) => typed.getNode({ name }, (e) => r(e ? (e.code as status) : status.OK))),
      (name) => new Promise((r) => typed.cordonNode({ name }, (e) => r(e ? (e.code as status) : status.OK))),
      (name) => new Promise((r) => typed.drainNode({ name }, (e) => r(e ? (e.code as status) : status.OK))),
      (name) => new Promise((r) => typed.getHistory({ workload: name, limit: 0, pageSize: 0, pageToken: "" }, (e) => r(e ? (e.code as status) : status.OK))),
      (name) => new Promise((r) => typed.listInstances({ workload: name, pageSize: 0, pageToken: "" }, (e) => r(e ? (e.code as status) : status.OK))),
      (name) => new Promise((r) => typed.listEndpoints({ workload: name, pageSize: 0, pageToken: "" }, (e) => r(e ? (e.code as status) : status.OK))),
    ];
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 70 }), fc.nat({ max: lookups.length - 1 }), async (name, which) => {
        const code = await lookups[which]!(name);
        // getHistory of a never-seen valid name is an empty history; listInstances and
        // listEndpoints of an empty name list every workload's.
        expect([status.INVALID_ARGUMENT, status.NOT_FOUND, status.OK]).toContain(code);
        if (code === status.OK) expect(which >= 6 ? true : name === "").toBe(true);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  test("random page fields to every paged method answer OK or INVALID_ARGUMENT naming page_size or page_token", async () => {
    const paged: Array<(page: { pageSize: number; pageToken: string }) => Promise<{ code: status; details: string }>> = [
      (page) => new Promise((r) => typed.listWorkloads(page, (e) => r(e ? { code: e.code as status, details: e.details } : { code: status.OK, details: "" }))),
      (page) => new Promise((r) => typed.listNodes(page, (e) => r(e ? { code: e.code as status, details: e.details } : { code: status.OK, details: "" }))),
      (page) => new Promise((r) => typed.listInstances({ workload: "", ...page }, (e) => r(e ? { code: e.code as status, details: e.details } : { code: status.OK, details: "" }))),
      (page) => new Promise((r) => typed.listEndpoints({ workload: "", ...page }, (e) => r(e ? { code: e.code as status, details: e.details } : { code: status.OK, details: "" }))),
      (page) => new Promise((r) => typed.getHistory({ workload: "web", limit: 3, ...page }, (e) => r(e ? { code: e.code as status, details: e.details } : { code: status.OK, details: "" }))),
    ];
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: paged.length - 1 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.oneof(fc.constant(""), fc.string({ maxLength: 40 })), async (which, pageSize, pageToken) => {
        const a = await paged[which]!({ pageSize, pageToken });
        if (pageSize >= 0 && pageToken === "") expect(a.code).toBe(status.OK);
        else expect([a.code, a.details.split(":")[0]]).toEqual([status.INVALID_ARGUMENT, pageSize < 0 ? "page_size" : "page_token"]);
      }),
      { seed: SEED, numRuns: 150 },
    );
  });

  test("an oversize message is refused with RESOURCE_EXHAUSTED and the server stays up", async () => {
    const answer = await applyAnswer({ name: "huge", labels: {}, spec: spec({ args: ["x".repeat(5 * 1024 * 1024)] }), generation: 0 });
    expect(answer.code).toBe(status.RESOURCE_EXHAUSTED);
    await stillServing();
  });
});
