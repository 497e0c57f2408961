/**
 * Fuzzing every RPC of a real control plane, in process and as it ships: TLS, bearer tokens,
 * and an agent with an enrolled node certificate.
 *
 * - Well-formed but wrong requests (bad names, out-of-range enums and numbers, negative
 *   durations, impossible resources, invalid env keys, relative paths, a zero disruption
 *   budget, missing messages) are refused with INVALID_ARGUMENT naming the field, by
 *   ApplyWorkload and Plan alike, and nothing of them is applied.
 * - Random names at every lookup answer INVALID_ARGUMENT or NOT_FOUND.
 * - Messages above the 4 MiB limit are refused with RESOURCE_EXHAUSTED.
 * - Agent stream misuse (no hello first, bad node name, another node's name, hello twice,
 *   garbage) ends the stream with an error status.
 * - Random and mutated bytes at every method of ControlPlane, AgentGateway and Enrollment,
 *   with and without credentials: each call is answered before its deadline, never with
 *   INTERNAL or UNKNOWN, and the server keeps answering ListWorkloads.
 * - The same at every ControlPlane method of a standby following a leader on PostgreSQL
 *   (issue 20): reads answered from its state as above; changes, Logs and Exec always
 *   UNAVAILABLE naming the leader.
 *
 * Seeded: TESSERA_FUZZ_SEED=N runs another sequence, TESSERA_FUZZ_RUNS=N more calls per
 * method. The bugs it found are fixed; their reproducers are the tests at the end.
 */
// @peculiar/x509 needs the Reflect polyfill loaded before it.
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CallOptions,
  type ChannelCredentials,
  Client,
  type ClientDuplexStream,
  credentials,
  Metadata,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import * as x509 from "@peculiar/x509";
import fc from "fast-check";
import { channelCredentials, NodeCredentials } from "../../src/agent/credentials.js";
import { CHANNEL_OPTIONS } from "../../src/shell/control-channel.js";
import { type RunningControlPlane, startControlPlane } from "../../src/control/lifecycle/server.js";
import type { Logger } from "../../src/shell/logger.js";
import { type PageRequest, type SortKey, takePage } from "../../src/core/views/paging.js";
import { MAX_CPU_MILLIS, MAX_MEMORY_MB, MAX_REPLICAS, MAX_SPEC_BYTES, validateName } from "../../src/core/model/validate.js";
import type { Duration } from "../../src/gen/google/protobuf/duration.js";
import {
  AgentGatewayClient,
  AgentGatewayService,
  AgentMessage,
  type ControlMessage,
  EnrollmentService,
  EnrollRequest,
  type Hello,
} from "../../src/gen/tessera/v1/agent_gateway.js";
import {
  ApplyWorkloadRequest,
  ControlPlaneClient,
  ControlPlaneService,
  LogsRequest,
  PlanRequest,
  TokenKind,
  WatchEndpointsRequest,
  WatchRequest,
} from "../../src/gen/tessera/v1/control_plane.js";
import { type Event as WireEvent, InstanceState, Workload, WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { eventually } from "../e2e/harness.js";
import { type PostgresServer, postgresSuite, startPostgres } from "../e2e/postgres-server.js";
import { type ControlPlaneMethod, METHOD_ACCESS } from "../../src/core/access/authz.js";

x509.cryptoProvider.set(crypto);

/** A valid process spec with every field the generated code defines (fromPartial fills new ones). */
function spec(over: Partial<WorkloadSpec> = {}): WorkloadSpec {
  return WorkloadSpec.fromPartial({ command: "/bin/sleep", args: ["1000"], ...over });
}

const SEED = Number(process.env.TESSERA_FUZZ_SEED ?? 20_251_122);
console.log(`rpc-fuzz seed ${SEED} (TESSERA_FUZZ_SEED=N for another sequence)`);

/** Raw-byte calls per method, sent BATCH at a time (TESSERA_FUZZ_RUNS=N for a longer run). */
const RAW_RUNS = Number(process.env.TESSERA_FUZZ_RUNS ?? 200);
const BATCH = 25;
/** Per fuzzing test: a held-open Watch batch costs HOLD_MS, so longer runs need longer. */
const FUZZ_TEST_TIMEOUT_MS = Math.max(30_000, RAW_RUNS * 40);
/** Every unary call and agent stream must be answered within this. */
const DEADLINE_MS = 3_000;
/** Watch and Logs may legitimately stay open: they are cut off after this. */
const HOLD_MS = 400;
/** The server streams that may stay open; the others (SaveSnapshot) must end within DEADLINE_MS like a unary call. */
const HOLDS_OPEN = new Set<string>([ControlPlaneService.watch.path, ControlPlaneService.watchEndpoints.path, ControlPlaneService.logs.path]);
/** The server's grpc.max_receive_message_length and max_send_message_length. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** The node the enrolled test agent speaks for. */
const AGENT = "fz-agent";
/** A workload that exists throughout; its nodeSelector matches no node, so it never changes by itself. */
const KEEP = "fz-keep";
/** A workload of no replicas whose changes mark a point in the event log (markIn). */
const MARK = "fz-mark";

/** Server log lines at error level (INTERNAL/UNKNOWN answers, failed commits): there must be none. */
const serverErrors: string[] = [];
const log: Logger = {
  error: (msg, fields) => void serverErrors.push(`${msg} ${JSON.stringify(fields ?? {})}`),
  warn() {},
  info() {},
  debug() {},
  with: () => log,
};

let dir: string;
let controlDir: string;
let cp: RunningControlPlane;
let caPem: Buffer;
let nodeCreds: ChannelCredentials;
let publicKeyPem: string;
/** Clients, closed in afterAll. */
let admin: Client;
let typed: ControlPlaneClient;
let anonymous: Client;
let agentRaw: Client;
let agent: AgentGatewayClient;
const clients: Client[] = [];

const identity = (b: Buffer) => b;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex") || "(empty)";
const tokenOf = (kind: "admin" | "join") => readFileSync(join(controlDir, `${kind}-token`), "utf8").trim();
const bearer = (token: string) => {
  const md = new Metadata();
  md.set("authorization", `Bearer ${token}`);
  return md;
};

/** TLS plus the admin token, read for every call: fuzzed RotateToken calls may replace it. */
function adminCredentials(): ChannelCredentials {
  const perCall = credentials.createFromMetadataGenerator((_params, cb) => cb(null, bearer(tokenOf("admin"))));
  return credentials.combineChannelCredentials(credentials.createSsl(caPem), perCall);
}

function track<C extends Client>(c: C): C {
  clients.push(c);
  return c;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tessera-rpc-fuzz-"));
  controlDir = join(dir, "control");
  cp = await startControlPlane({ listen: "127.0.0.1:0", dataDir: controlDir, log, tickMs: 100 });
  caPem = readFileSync(join(controlDir, "pki", "ca.pem"));
  admin = track(new Client(cp.address, adminCredentials(), CHANNEL_OPTIONS));
  typed = track(new ControlPlaneClient(cp.address, adminCredentials(), CHANNEL_OPTIONS));
  anonymous = track(new Client(cp.address, credentials.createSsl(caPem), CHANNEL_OPTIONS));
  // The agent enrolls as a real one does: join token in, node certificate out.
  const id = await new NodeCredentials(join(dir, "agent"), AGENT, cp.address, { caPem: caPem.toString(), joinToken: tokenOf("join") }).ensure(Date.now());
  nodeCreds = channelCredentials(id);
  agentRaw = track(new Client(cp.address, nodeCreds, CHANNEL_OPTIONS));
  agent = track(new AgentGatewayClient(cp.address, nodeCreds, CHANNEL_OPTIONS));
  const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  publicKeyPem = x509.PemConverter.encode(await crypto.subtle.exportKey("spki", keys.publicKey), "PUBLIC KEY");
  const kept = await ask<unknown>((md, o, cb) => typed.applyWorkload({ workload: keepWorkload() }, md, o, cb));
  expect({ code: status[kept.code], details: kept.details }).toEqual({ code: "OK", details: "" });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Calling helpers

interface Answer {
  code: status;
  details: string;
  /** Messages received (server streams). */
  messages: number;
}

type Callback<Res> = (err: ServiceError | null, res?: Res) => void;

/** A typed unary call with a deadline; resolves with its status and response. */
function ask<Res>(invoke: (md: Metadata, opts: Partial<CallOptions>, cb: Callback<Res>) => unknown, ms = DEADLINE_MS): Promise<Answer & { res?: Res }> {
  return new Promise((resolve) => {
    invoke(new Metadata(), { deadline: new Date(Date.now() + ms) }, (err, res) =>
      resolve(err ? { code: err.code as status, details: err.details, messages: 0 } : { code: status.OK, details: "", messages: 0, res }),
    );
  });
}

type Kind = "unary" | "server" | "bidi";

/**
 * Sends raw bytes as the request of `path`. A bidi call first sends `before` (e.g. a valid
 * hello), then the bytes, then half-closes.
 */
function sendRaw(client: Client, path: string, kind: Kind, bytes: Uint8Array, metadata = new Metadata(), before: Buffer[] = []): Promise<Answer> {
  return new Promise((resolve) => {
    const payload = Buffer.from(bytes);
    if (kind === "unary") {
      client.makeUnaryRequest(path, identity, identity, payload, metadata, { deadline: new Date(Date.now() + DEADLINE_MS) }, (err) =>
        resolve(err ? { code: err.code as status, details: err.details, messages: 0 } : { code: status.OK, details: "", messages: 0 }),
      );
      return;
    }
    let messages = 0;
    const call =
      kind === "server"
        ? client.makeServerStreamRequest(path, identity, identity, payload, metadata, { deadline: new Date(Date.now() + (HOLDS_OPEN.has(path) ? HOLD_MS : DEADLINE_MS)) })
        : client.makeBidiStreamRequest(path, identity, identity, metadata, { deadline: new Date(Date.now() + DEADLINE_MS) });
    call.on("data", () => messages++);
    call.on("error", () => {});
    call.on("status", (s: { code: status; details: string }) => resolve({ code: s.code, details: s.details, messages }));
    if (kind === "bidi") {
      const duplex = call as ClientDuplexStream<Buffer, Buffer>;
      for (const b of before) duplex.write(b);
      duplex.write(payload);
      setTimeout(() => duplex.end(), 30);
    }
  });
}

async function stillServing(): Promise<void> {
  const res = await ask<{ workloads: Workload[] }>((md, o, cb) => typed.listWorkloads({ pageSize: 0, pageToken: "" }, md, o, cb));
  expect(res.code).toBe(status.OK);
  expect(res.res!.workloads.some((w) => w.name === KEEP)).toBe(true);
}

/** What must not change when a request is refused: each workload's declared state. */
async function snapshot(): Promise<string> {
  const res = await ask<{ workloads: Workload[] }>((md, o, cb) => typed.listWorkloads({ pageSize: 0, pageToken: "" }, md, o, cb));
  expect(res.code).toBe(status.OK);
  const instances = await ask<{ instances: Array<{ id: string }> }>((md, o, cb) => typed.listInstances({ workload: "", pageSize: 0, pageToken: "" }, md, o, cb));
  expect(instances.code).toBe(status.OK);
  return JSON.stringify({
    workloads: res.res!.workloads.map((w) => ({ name: w.name, labels: w.labels, spec: w.spec, generation: w.generation, deleting: w.status?.deleting })),
    instances: instances.res!.instances.map((i) => i.id),
  });
}

/** Collects every committed event from now on (Watch from the start; the caller marks where "now" is). */
function watchAll(): { events: WireEvent[]; close(): void } {
  const events: WireEvent[] = [];
  const call = typed.watch({ afterSequence: 0, workload: "" });
  call.on("data", (r: { event?: WireEvent }) => r.event && events.push(r.event));
  call.on("error", () => {});
  return { events, close: () => call.cancel() };
}

// ---------------------------------------------------------------------------------------------
// Valid messages: the seeds that mutations start from, and the bases of wrong requests

function keepWorkload(): Workload {
  return {
    name: KEEP,
    labels: { team: "fuzz" },
    spec: spec({
      args: ["3600"],
      env: { MODE: "fuzz" },
      replicas: 2,
      resources: { cpuMillis: 200, memoryMb: 64 },
      nodeSelector: { zone: "nowhere" },
      restartPolicy: { mode: 2, initialBackoff: { seconds: 1, nanos: 0 }, maxBackoff: { seconds: 30, nanos: 0 } },
      update: { maxUnavailable: 0, maxSurge: 1, waves: [] },
      stopGracePeriod: { seconds: 5, nanos: 0 },
    }),
    generation: 0,
  };
}

function hello(node: string, over: Partial<Hello> = {}): AgentMessage {
  return {
    payload: {
      $case: "hello",
      value: { node, executors: ["simulated"], version: "fuzz", instances: [], labels: { zone: "fuzz" }, capacity: { cpuMillis: 1000, memoryMb: 1024 }, advertiseAddress: "", reservedPorts: [], hostVolumes: [], ...over } as Hello,
    },
  };
}

const agentMessages: AgentMessage[] = [
  hello(AGENT),
  hello(AGENT, { instances: [{ instanceId: `${KEEP}-0.1`, generation: 1, state: InstanceState.INSTANCE_STATE_RUNNING, reason: "", stderrTail: "" }] }),
  { payload: { $case: "heartbeat", value: {} } },
  { payload: { $case: "report", value: { instanceId: `${KEEP}-0.1`, generation: 1, state: InstanceState.INSTANCE_STATE_FAILED, reason: "exit 1", exitCode: 1, stderrTail: "" } } },
  { payload: { $case: "ack", value: { commandId: 1, error: "" } } },
  { payload: { $case: "logChunk", value: { commandId: 1, lines: ["a", "b"], eof: true, error: "" } } },
  {
    payload: {
      $case: "batch",
      value: {
        messages: [
          { payload: { $case: "report", value: { instanceId: `${KEEP}-0.1`, generation: 1, state: InstanceState.INSTANCE_STATE_RUNNING, reason: "", stderrTail: "" } } },
          { payload: { $case: "ack", value: { commandId: 1, error: "" } } },
        ],
      },
    },
  },
];
const encodeAgent = (m: AgentMessage) => Buffer.from(AgentMessage.encode(m).finish());

/** A page_token as the server would hand it out: the next page after `key` in `scope`. */
function pageToken(scope: string, key: SortKey): string {
  return takePage([key, [...key, 0]], { returned: 0, size: 1 }, scope, { keyOf: (k) => k, render: (k) => k, sizeOf: () => 1 }).nextPageToken;
}

/** The page fields of list requests: first pages of several sizes, and a real token. */
function pageSeeds(scope: string, key: SortKey): PageRequest[] {
  return [
    { pageSize: 0, pageToken: "" },
    { pageSize: 1, pageToken: "" },
    { pageSize: 2, pageToken: pageToken(scope, key) },
  ];
}

/** Valid requests per method path, encoded with the generated serializers. */
function seedsFor(path: string): Buffer[] {
  const cp = ControlPlaneService;
  const named = (name: string) => [name, KEEP, AGENT, "web", ""];
  switch (path) {
    case cp.applyWorkload.path:
      return [cp.applyWorkload.requestSerialize({ workload: keepWorkload() }), cp.applyWorkload.requestSerialize({ workload: { name: "fz-seed", labels: {}, spec: spec(), generation: 0 } })];
    case cp.applyWorkloads.path:
      return [
        cp.applyWorkloads.requestSerialize({ workloads: [keepWorkload()] }),
        cp.applyWorkloads.requestSerialize({ workloads: [{ name: "fz-seed", labels: {}, spec: spec(), generation: 0 }, { name: "fz-seed-2", labels: {}, spec: spec(), generation: 0 }] }),
      ];
    case cp.plan.path:
      return [cp.plan.requestSerialize({ workload: keepWorkload() })];
    case cp.getWorkload.path:
      return named("fz-seed").map((name) => cp.getWorkload.requestSerialize({ name }));
    case cp.deleteWorkload.path:
      // Never KEEP itself: later assertions rely on it.
      return ["fz-seed", "web"].map((name) => cp.deleteWorkload.requestSerialize({ name }));
    case cp.restartWorkload.path:
      return named("fz-seed").map((name) => cp.restartWorkload.requestSerialize({ name }));
    case cp.runWorkload.path:
      return named("fz-seed").map((name) => cp.runWorkload.requestSerialize({ name }));
    case cp.rollbackWorkload.path:
      return named("fz-seed").map((name) => cp.rollbackWorkload.requestSerialize({ name, toRevision: 0 }));
    case cp.promoteRollout.path:
      return named("fz-seed").map((name) => cp.promoteRollout.requestSerialize({ name }));
    case cp.pauseRollout.path:
      return named("fz-seed").map((name) => cp.pauseRollout.requestSerialize({ name, paused: name.length % 2 === 0 }));
    case cp.liftQuarantine.path:
      return [...named(KEEP).map((name) => cp.liftQuarantine.requestSerialize({ name, node: "" })), ...named(AGENT).map((node) => cp.liftQuarantine.requestSerialize({ name: KEEP, node }))];
    case cp.getNode.path:
      return named(AGENT).map((name) => cp.getNode.requestSerialize({ name }));
    case cp.cordonNode.path:
      return named(AGENT).map((name) => cp.cordonNode.requestSerialize({ name }));
    case cp.uncordonNode.path:
      return named(AGENT).map((name) => cp.uncordonNode.requestSerialize({ name }));
    case cp.drainNode.path:
      return named(AGENT).map((name) => cp.drainNode.requestSerialize({ name }));
    case cp.listInstances.path:
      return [
        ...named(KEEP).map((workload) => cp.listInstances.requestSerialize({ workload, pageSize: 0, pageToken: "" })),
        ...pageSeeds(`instances:${KEEP}`, [KEEP, 0, `${KEEP}-0.1`]).map((page) => cp.listInstances.requestSerialize({ workload: KEEP, ...page })),
      ];
    case cp.listEndpoints.path:
      return [
        ...named(KEEP).map((workload) => cp.listEndpoints.requestSerialize({ workload, pageSize: 0, pageToken: "" })),
        ...pageSeeds(`endpoints:${KEEP}`, [KEEP, `${KEEP}-0`, "http", `${KEEP}-0.1`]).map((page) => cp.listEndpoints.requestSerialize({ workload: KEEP, ...page })),
      ];
    case cp.watchEndpoints.path:
      return [cp.watchEndpoints.requestSerialize({ workload: "" }), cp.watchEndpoints.requestSerialize({ workload: KEEP })];
    case cp.getHistory.path:
      return [
        ...named(KEEP).map((workload) => cp.getHistory.requestSerialize({ workload, limit: 5, pageSize: 0, pageToken: "" })),
        ...pageSeeds(`history:${KEEP}:0`, [3]).map((page) => cp.getHistory.requestSerialize({ workload: KEEP, limit: 0, ...page })),
      ];
    case cp.listWorkloads.path:
      return pageSeeds("workloads", [KEEP]).map((page) => cp.listWorkloads.requestSerialize(page));
    case cp.listNodes.path:
      return pageSeeds("nodes", [AGENT]).map((page) => cp.listNodes.requestSerialize(page));
    case cp.watch.path:
      return [cp.watch.requestSerialize({ afterSequence: 0, workload: "" }), cp.watch.requestSerialize({ afterSequence: 3, workload: KEEP })];
    case cp.logs.path:
      return [
        cp.logs.requestSerialize({ workload: KEEP, instance: "", follow: false, tail: 10, previous: false }),
        cp.logs.requestSerialize({ workload: KEEP, instance: `${KEEP}-0`, follow: true, tail: 0, previous: false }),
        cp.logs.requestSerialize({ workload: KEEP, instance: `${KEEP}-0`, follow: false, tail: 0, previous: true }),
      ];
    case cp.exec.path:
      return [
        cp.exec.requestSerialize({ request: { $case: "start", value: { workload: KEEP, instance: "", command: ["true"], stdin: false } } }),
        cp.exec.requestSerialize({ request: { $case: "start", value: { workload: KEEP, instance: `${KEEP}-1`, command: ["sh", "-c", "cat"], stdin: true } } }),
        cp.exec.requestSerialize({ request: { $case: "stdin", value: Buffer.from("input\n") } }),
        cp.exec.requestSerialize({ request: { $case: "signal", value: "SIGINT" } }),
      ];
    case cp.rotateToken.path:
      return [cp.rotateToken.requestSerialize({ kind: TokenKind.TOKEN_KIND_JOIN }), cp.rotateToken.requestSerialize({ kind: TokenKind.TOKEN_KIND_ADMIN })];
    case cp.createToken.path:
      return [Buffer.alloc(0), cp.createToken.requestSerialize({ kind: TokenKind.TOKEN_KIND_JOIN, ttlMs: 60_000, uses: 2 })];
    case cp.revokeToken.path:
      return [cp.revokeToken.requestSerialize({ id: "sha256:000000000000" })];
    case cp.approveNode.path:
      return [cp.approveNode.requestSerialize({ name: "fz-approved" })];
    case cp.removeNode.path:
      return [cp.removeNode.requestSerialize({ name: "fz-removed" })];
    case cp.putSecret.path:
      return [cp.putSecret.requestSerialize({ name: "fz-secret", data: { password: Buffer.from("fz-value") }, create: true }), cp.putSecret.requestSerialize({ name: "fz-secret", data: { "a.b": Buffer.alloc(3) }, create: false })];
    case cp.putConfig.path:
      return [cp.putConfig.requestSerialize({ name: "fz-config", data: { "app.conf": Buffer.from("a=1") }, create: true })];
    case cp.deleteSecret.path:
      return [cp.deleteSecret.requestSerialize({ name: "fz-secret" })];
    case cp.deleteConfig.path:
      return [cp.deleteConfig.requestSerialize({ name: "fz-config" })];
    case cp.listSecrets.path:
    case cp.listConfigs.path:
    case cp.rotateClusterKey.path:
    case cp.listTokens.path:
    case cp.listControlPlanes.path:
    case cp.saveSnapshot.path:
    case EnrollmentService.getCa.path:
      return [Buffer.alloc(0)];
    case AgentGatewayService.connect.path:
      return agentMessages.map(encodeAgent);
    case EnrollmentService.enroll.path:
      return [EnrollmentService.enroll.requestSerialize({ node: "fz-enrolled", publicKeyPem })];
    default:
      throw new Error(`no seeds for ${path}`);
  }
}

/** A valid message with a few bytes flipped, inserted, dropped or appended: it often still decodes. */
function mutated(seeds: Buffer[]): fc.Arbitrary<Uint8Array> {
  const op = fc.oneof(
    fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
    fc.record({ kind: fc.constant("append" as const), at: fc.constant(0), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  );
  return fc.tuple(fc.constantFrom(...seeds), fc.array(op, { minLength: 1, maxLength: 4 })).map(([seed, ops]) => {
    let b = Uint8Array.from(seed);
    for (const o of ops) {
      const at = b.length === 0 ? 0 : o.at % (b.length + 1);
      if (o.kind === "flip" && b.length > 0) b[at % b.length] = o.value;
      else if (o.kind === "insert") b = Uint8Array.from([...b.slice(0, at), ...o.bytes, ...b.slice(at)]);
      else if (o.kind === "truncate") b = b.slice(0, at);
      else if (o.kind === "append") b = Uint8Array.from([...b, ...o.bytes]);
    }
    return b;
  });
}

const bytesFor = (path: string) => fc.oneof(fc.uint8Array({ maxLength: 512 }), mutated(seedsFor(path)));

function decodes(decode: (b: Uint8Array) => unknown, bytes: Uint8Array): boolean {
  try {
    decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Watch, WatchEndpoints and Logs may stay open for a valid request (waiting for events or an agent). */
function mayStayOpen(path: string, bytes: Uint8Array): boolean {
  const watches = [
    [ControlPlaneService.watch.path, WatchRequest],
    [ControlPlaneService.watchEndpoints.path, WatchEndpointsRequest],
  ] as const;
  for (const [watchPath, message] of watches) {
    if (path !== watchPath) continue;
    if (!decodes(message.decode, bytes)) return false;
    const w = message.decode(bytes).workload;
    return w === "" || validateName(w) === undefined;
  }
  if (path === ControlPlaneService.logs.path) return decodes(LogsRequest.decode, bytes) && validateName(LogsRequest.decode(bytes).workload) === undefined;
  return false;
}

/** Why an answer is not acceptable for a fuzzed call, or undefined. */
function problemWith(path: string, bytes: Uint8Array, a: Answer): string | undefined {
  if (a.code === status.INTERNAL || a.code === status.UNKNOWN) return `answered ${status[a.code]}: ${a.details}`;
  if (a.code === status.DEADLINE_EXCEEDED && !mayStayOpen(path, bytes)) return `no answer within the deadline (${a.details})`;
  // Logs of an instance whose node is not connected is UNAVAILABLE; anything else is the server going away.
  if (a.code === status.UNAVAILABLE && !(path === ControlPlaneService.logs.path && /node .* (is not connected|disconnected|declared Offline)/.test(a.details)))
    return `UNAVAILABLE: ${a.details}`;
  return undefined;
}

/** Sends RAW_RUNS generated byte strings to a method, BATCH at a time, and checks every answer. */
async function fuzzMethod(
  path: string,
  kind: Kind,
  opts: { client?: Client; metadata?: () => Metadata; before?: Buffer[]; bytes?: fc.Arbitrary<Uint8Array>; check?: (bytes: Uint8Array, a: Answer) => string | undefined; runs?: number } = {},
): Promise<Record<string, number>> {
  const codes: Record<string, number> = {};
  const client = opts.client ?? admin;
  const check = opts.check ?? ((bytes, a) => problemWith(path, bytes, a));
  await fc.assert(
    fc.asyncProperty(fc.array(opts.bytes ?? bytesFor(path), { minLength: BATCH, maxLength: BATCH }), async (batch) => {
      const answers = await Promise.all(batch.map((b) => sendRaw(client, path, kind, b, opts.metadata?.() ?? new Metadata(), opts.before)));
      answers.forEach((a, i) => {
        codes[status[a.code]] = (codes[status[a.code]] ?? 0) + 1;
        const problem = check(batch[i]!, a);
        if (problem) throw new Error(`${path} with request bytes ${hex(batch[i]!)}: ${problem}`);
      });
    }),
    { seed: SEED, numRuns: Math.ceil((opts.runs ?? RAW_RUNS) / BATCH) },
  );
  return codes;
}

// ---------------------------------------------------------------------------------------------
// Well-formed but wrong requests (first, while the state is just KEEP)

interface Wrong {
  workload: Workload | undefined;
  /** The refusal's details must start with this. */
  field: string;
  /**
   * The request bytes, when the generated encoder cannot express the wrong value (it refuses a
   * negative uint32). ApplyWorkloadRequest and PlanRequest share field 1, so they serve both.
   */
  bytes?: Uint8Array;
}

/**
 * A request whose spec.replicas (uint32) is a negative number on the wire: the 10-byte varint
 * of a negative int32, which proto decoders read as a huge uint32.
 */
function withNegativeReplicas(name: string, replicas: number): Uint8Array {
  const specBytes = new BinaryWriter();
  WorkloadSpec.encode(spec(), specBytes);
  specBytes.uint32((6 << 3) | 0).int32(replicas);
  const workload = new BinaryWriter();
  workload.uint32((1 << 3) | 2).string(name);
  workload.uint32((3 << 3) | 2).bytes(specBytes.finish());
  return new BinaryWriter().uint32((1 << 3) | 2).bytes(workload.finish()).finish();
}

const LABEL_KEY = /^[A-Za-z0-9]([-A-Za-z0-9_./]{0,251}[A-Za-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const badName: fc.Arbitrary<string> = fc
  .oneof(
    fc.constantFrom("", "Web", "WEB", "web_1", "web.1", "web 1", "-web", "web-", "wéb", "日本", "😀", "web\n", "a".repeat(64), "a-".repeat(40)),
    fc.string({ unit: "binary", minLength: 1, maxLength: 80 }),
    fc.stringMatching(/^[a-z0-9]{64,90}$/),
    fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[A-Z_. ][a-z0-9-]{0,20}$/),
  )
  .filter((s) => validateName(s) !== undefined);

const oneOf = <T>(...xs: T[]) => fc.constantFrom(...xs);
const negativeDuration: fc.Arbitrary<Duration> = fc.oneof(
  fc.integer({ min: -(2 ** 40), max: -1 }).map((seconds) => ({ seconds, nanos: 0 })),
  fc.integer({ min: -999_999_999, max: -1 }).map((nanos) => ({ seconds: 0, nanos })),
);
const overlongDuration: fc.Arbitrary<Duration> = fc.integer({ min: 86_401, max: 2 ** 40 }).map((seconds) => ({ seconds, nanos: 0 }));
const u32Above = (min: number) => fc.integer({ min, max: 2 ** 32 - 1 });

/** One thing wrong with an otherwise valid workload, and the field the refusal must name. */
function wrongWorkload(name: string): fc.Arbitrary<Wrong> {
  const w = (over: Partial<WorkloadSpec>, field: string, labels: Record<string, string> = {}): Wrong => ({ workload: { name, labels, spec: spec(over), generation: 0 }, field });
  const durationField = oneOf(
    { set: (d: Duration) => ({ stopGracePeriod: d }), field: "workload.spec.stop_grace_period" },
    { set: (d: Duration) => ({ restartPolicy: { mode: 0, initialBackoff: d } }), field: "workload.spec.restart_policy.initial_backoff" },
    { set: (d: Duration) => ({ restartPolicy: { mode: 0, maxBackoff: d } }), field: "workload.spec.restart_policy.max_backoff" },
  );
  return fc.oneof(
    // Replicas above the cap, or negative.
    u32Above(MAX_REPLICAS + 1).map((replicas) => w({ replicas }, "workload.spec.replicas")),
    fc.integer({ min: -(2 ** 31), max: -1 }).map((replicas): Wrong => ({ ...w({}, "workload.spec.replicas"), bytes: withNegativeReplicas(name, replicas) })),
    // Enum numbers outside RestartMode.
    fc.oneof(fc.integer({ min: 4, max: 2 ** 31 - 1 }), fc.integer({ min: -(2 ** 31), max: -1 })).map((mode) => w({ restartPolicy: { mode } }, "workload.spec.restart_policy.mode")),
    fc.tuple(durationField, negativeDuration).map(([f, d]) => w(f.set(d), f.field)),
    fc.tuple(durationField, overlongDuration).map(([f, d]) => w(f.set(d), f.field)),
    fc
      .tuple(fc.integer({ min: 2, max: 86_400 }), fc.integer({ min: 0, max: 86_399 }))
      .filter(([i, m]) => m < i)
      .map(([i, m]) => w({ restartPolicy: { mode: 1, initialBackoff: { seconds: i, nanos: 0 }, maxBackoff: { seconds: m, nanos: 0 } } }, "workload.spec.restart_policy.max_backoff")),
    // Resources beyond any machine.
    u32Above(MAX_CPU_MILLIS + 1).map((cpuMillis) => w({ resources: { cpuMillis, memoryMb: 64 } }, "workload.spec.resources.cpu_millis")),
    u32Above(MAX_MEMORY_MB + 1).map((memoryMb) => w({ resources: { cpuMillis: 100, memoryMb } }, "workload.spec.resources.memory_mb")),
    fc
      .oneof(fc.constantFrom("", "1X", "A-B", "A=B", "A B", "É", "PATH\n"), fc.string({ unit: "binary", maxLength: 20 }))
      .filter((k) => !ENV_NAME.test(k))
      .map((key) => w({ env: { [key]: "v" } }, `workload.spec.env.${key}`)),
    fc
      .oneof(fc.constantFrom("sleep", "./run", "bin/x", " /bin/x", "~/x"), fc.string({ unit: "binary", minLength: 1, maxLength: 30 }))
      .filter((c) => !c.startsWith("/"))
      .map((command) => w({ command }, "workload.spec.command")),
    fc.constant(w({ command: "", image: "" }, "workload.spec.command")),
    fc
      .string({ unit: "binary", minLength: 1, maxLength: 30 })
      .filter((d) => !d.startsWith("/"))
      .map((workingDir) => w({ workingDir }, "workload.spec.working_dir")),
    fc.constant(w({ update: { maxSurge: 0, maxUnavailable: 0, waves: [] } }, "workload.spec.update")),
    fc
      .string({ unit: "binary", maxLength: 300 })
      .filter((k) => !LABEL_KEY.test(k))
      .map((key) => w({ nodeSelector: { [key]: "a" } }, `workload.spec.node_selector.${key}`)),
    fc.string({ minLength: 64, maxLength: 100 }).map((value) => w({ nodeSelector: { zone: value } }, "workload.spec.node_selector.zone")),
    fc
      .string({ unit: "binary", maxLength: 300 })
      .filter((k) => !LABEL_KEY.test(k))
      .map((key) => w({}, `workload.labels.${key}`, { [key]: "v" })),
    fc.string({ minLength: 64, maxLength: 100 }).map((value) => w({}, "workload.labels.team", { team: value })),
    fc.constant<Wrong>({ workload: { name, labels: {}, spec: undefined, generation: 0 }, field: "workload.spec: expected" }),
  );
}

const wrongRequest: fc.Arbitrary<Wrong> = fc.oneof(
  { weight: 1, arbitrary: badName.map((name): Wrong => ({ workload: { name, labels: {}, spec: spec(), generation: 0 }, field: "workload.name: expected" })) },
  // A new workload, or a change to the existing one: neither may be applied.
  { weight: 4, arbitrary: fc.oneof(fc.nat({ max: 20 }).map((n) => `fz-new-${n}`), fc.constant(KEEP)).chain(wrongWorkload) },
  { weight: 1, arbitrary: fc.constant<Wrong>({ workload: undefined, field: "workload: expected a Workload message" }) },
);

/**
 * Commits a change to a workload of no replicas, MARK, and resolves with its event's sequence
 * number once `watch` delivered it: the events committed before it have been delivered too.
 */
async function markIn(watch: ReturnType<typeof watchAll>, version: string): Promise<number> {
  const applied = await ask((md, o, cb) => typed.applyWorkload({ workload: { name: MARK, labels: {}, spec: spec({ args: [version], replicas: 0 }), generation: 0 } }, md, o, cb));
  expect({ code: status[applied.code], details: applied.details }).toEqual({ code: "OK", details: "" });
  const event = await eventually(`the watch delivering ${MARK} ${version}`, () => watch.events.find((e) => e.type === "WorkloadApplied" && e.workload === MARK && e.detail.includes(`"args":["${version}"]`)));
  return event.sequence;
}

describe("well-formed but wrong requests", () => {
  test("wrong workloads are refused by ApplyWorkload and Plan with INVALID_ARGUMENT naming the field; nothing is applied", async () => {
    const watch = watchAll();
    const mark = await markIn(watch, "before");
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(wrongRequest, async ({ workload, field, bytes }) => {
        let applied: Answer;
        let planned: Answer;
        if (bytes) {
          expect(ApplyWorkloadRequest.decode(bytes).workload?.spec?.replicas).toBeGreaterThan(MAX_REPLICAS);
          applied = await sendRaw(admin, ControlPlaneService.applyWorkload.path, "unary", bytes);
          planned = await sendRaw(admin, ControlPlaneService.plan.path, "unary", bytes);
        } else {
          // What the typed client sends is the generated encoding: the wrong value survives it.
          const encoded = ApplyWorkloadRequest.encode({ workload }).finish();
          expect(ApplyWorkloadRequest.decode(encoded)).toEqual(ApplyWorkloadRequest.fromPartial({ workload }));
          applied = await ask((md, o, cb) => typed.applyWorkload({ workload }, md, o, cb));
          planned = await ask((md, o, cb) => typed.plan({ workload }, md, o, cb));
        }
        expect({ code: status[applied.code], details: applied.details }).toMatchObject({ code: "INVALID_ARGUMENT" });
        expect(applied.details.startsWith(field)).toBe(true);
        expect(applied.details).toMatch(/^workload(\..*)?: expected /s);
        expect({ code: status[planned.code], details: planned.details }).toEqual({ code: "INVALID_ARGUMENT", details: applied.details });
      }),
      { seed: SEED, numRuns: 300 },
    );
    // Nothing half-applied: every workload reads as before, and no workload event was committed
    // between the marks.
    expect(await snapshot()).toBe(before);
    const end = await markIn(watch, "after");
    watch.close();
    const touchedWorkloads = watch.events.filter((e) => e.sequence > mark && e.sequence < end && /^Workload|^InstanceCreated$/.test(e.type));
    expect(touchedWorkloads).toEqual([]);
    expect((await ask((md, o, cb) => typed.deleteWorkload({ name: MARK }, md, o, cb))).code).toBe(status.OK);
    await eventually(`${MARK} gone`, async () => ((await snapshot()).includes(MARK) ? undefined : true));
  });

  test("random names at every lookup answer INVALID_ARGUMENT or NOT_FOUND, never INTERNAL", async () => {
    type Lookup = { what: string; kind: "workload" | "node"; call: (name: string) => Promise<Answer> };
    const unaryLookups: Lookup[] = [
      { what: "GetWorkload", kind: "workload", call: (name) => ask((md, o, cb) => typed.getWorkload({ name }, md, o, cb)) },
      { what: "DeleteWorkload", kind: "workload", call: (name) => ask((md, o, cb) => typed.deleteWorkload({ name }, md, o, cb)) },
      { what: "RestartWorkload", kind: "workload", call: (name) => ask((md, o, cb) => typed.restartWorkload({ name }, md, o, cb)) },
      { what: "RunWorkload", kind: "workload", call: (name) => ask((md, o, cb) => typed.runWorkload({ name }, md, o, cb)) },
      { what: "PromoteRollout", kind: "workload", call: (name) => ask((md, o, cb) => typed.promoteRollout({ name }, md, o, cb)) },
      { what: "PauseRollout", kind: "workload", call: (name) => ask((md, o, cb) => typed.pauseRollout({ name, paused: true }, md, o, cb)) },
      { what: "LiftQuarantine", kind: "workload", call: (name) => ask((md, o, cb) => typed.liftQuarantine({ name, node: "" }, md, o, cb)) },
      { what: "ListInstances", kind: "workload", call: (name) => ask((md, o, cb) => typed.listInstances({ workload: name, pageSize: 0, pageToken: "" }, md, o, cb)) },
      { what: "ListEndpoints", kind: "workload", call: (name) => ask((md, o, cb) => typed.listEndpoints({ workload: name, pageSize: 0, pageToken: "" }, md, o, cb)) },
      { what: "GetHistory", kind: "workload", call: (name) => ask((md, o, cb) => typed.getHistory({ workload: name, limit: 0, pageSize: 0, pageToken: "" }, md, o, cb)) },
      { what: "GetNode", kind: "node", call: (name) => ask((md, o, cb) => typed.getNode({ name }, md, o, cb)) },
      { what: "CordonNode", kind: "node", call: (name) => ask((md, o, cb) => typed.cordonNode({ name }, md, o, cb)) },
      { what: "UncordonNode", kind: "node", call: (name) => ask((md, o, cb) => typed.uncordonNode({ name }, md, o, cb)) },
      { what: "DrainNode", kind: "node", call: (name) => ask((md, o, cb) => typed.drainNode({ name }, md, o, cb)) },
      {
        what: "Exec",
        kind: "workload",
        call: (name) =>
          sendRaw(admin, ControlPlaneService.exec.path, "bidi", ControlPlaneService.exec.requestSerialize({ request: { $case: "start", value: { workload: name, instance: "", command: ["true"], stdin: false } } })),
      },
      {
        what: "Logs",
        kind: "workload",
        call: (name) => sendRaw(admin, ControlPlaneService.logs.path, "server", LogsRequest.encode({ workload: name, instance: "", follow: false, tail: 1, previous: false }).finish()),
      },
    ];
    const names = fc.oneof(badName, fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/).filter((n) => n !== KEEP && n !== AGENT));
    const tally: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(names, fc.constantFrom(...unaryLookups), async (name, lookup) => {
        const a = await lookup.call(name);
        tally[status[a.code]] = (tally[status[a.code]] ?? 0) + 1;
        const valid = validateName(name) === undefined;
        if (lookup.kind === "workload") {
          // A workload name is checked before it is looked up; a never-seen one has an empty history.
          const expected =
            (lookup.what === "ListInstances" || lookup.what === "ListEndpoints") && name === "" ? status.OK // every workload's
            : !valid ? status.INVALID_ARGUMENT
            : lookup.what === "GetHistory" ? status.OK
            : status.NOT_FOUND;
          expect({ name, lookup: lookup.what, code: status[a.code] }).toEqual({ name, lookup: lookup.what, code: status[expected] });
          if (a.code === status.INVALID_ARGUMENT) expect(a.details).toMatch(/^(name|workload|start\.workload): expected /);
        } else {
          // Node names are checked like workload names before they are looked up.
          expect({ name, lookup: lookup.what, code: status[a.code] }).toEqual({
            name,
            lookup: lookup.what,
            code: status[valid ? status.NOT_FOUND : status.INVALID_ARGUMENT],
          });
        }
      }),
      { seed: SEED, numRuns: 400 },
    );
    expect(Object.keys(tally).sort()).toEqual(["INVALID_ARGUMENT", "NOT_FOUND", "OK"]);
    await stillServing();
  });

  test("out-of-range enum values and an unset kind are refused naming the field", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constant(0), fc.integer({ min: 3, max: 2 ** 31 - 1 }), fc.integer({ min: -(2 ** 31), max: -1 })), async (kind) => {
        const a = await ask((md, o, cb) => typed.rotateToken({ kind }, md, o, cb));
        expect({ code: status[a.code], details: a.details }).toEqual({ code: "INVALID_ARGUMENT", details: "kind: expected TOKEN_KIND_ADMIN or TOKEN_KIND_JOIN" });
      }),
      { seed: SEED, numRuns: 40 },
    );
  });

  test("random page_size and page_token at every paged method: OK, or INVALID_ARGUMENT naming the field", async () => {
    type Paged = { what: string; scope: string; call: (page: PageRequest) => Promise<Answer & { res?: { nextPageToken: string } }> };
    const paged: Paged[] = [
      { what: "ListWorkloads", scope: "workloads", call: (page) => ask((md, o, cb) => typed.listWorkloads(page, md, o, cb)) },
      { what: "ListNodes", scope: "nodes", call: (page) => ask((md, o, cb) => typed.listNodes(page, md, o, cb)) },
      { what: "ListInstances", scope: `instances:${KEEP}`, call: (page) => ask((md, o, cb) => typed.listInstances({ workload: KEEP, ...page }, md, o, cb)) },
      { what: "ListEndpoints", scope: `endpoints:${KEEP}`, call: (page) => ask((md, o, cb) => typed.listEndpoints({ workload: KEEP, ...page }, md, o, cb)) },
      { what: "GetHistory", scope: `history:${KEEP}:0`, call: (page) => ask((md, o, cb) => typed.getHistory({ workload: KEEP, limit: 0, ...page }, md, o, cb)) },
    ];
    const token = (scope: string) =>
      fc.oneof(
        fc.constant(""),
        fc.string({ unit: "binary", maxLength: 60 }),
        fc.base64String({ maxLength: 80 }),
        // A real token for some key, as is, or with a character changed.
        fc.tuple(fc.oneof(fc.string({ maxLength: 20 }), fc.integer()), fc.nat(), fc.string({ minLength: 1, maxLength: 1 })).map(([k, at, ch]) => {
          const t = pageToken(scope, [k]);
          return at % 2 === 0 ? t : t.slice(0, at % t.length) + ch + t.slice((at % t.length) + 1);
        }),
      );
    const tally: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paged).chain((p) => fc.tuple(fc.constant(p), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), token(p.scope))),
        async ([p, pageSize, pageToken]) => {
          const a = await p.call({ pageSize, pageToken });
          tally[status[a.code]] = (tally[status[a.code]] ?? 0) + 1;
          // A negative size is refused first; otherwise only the token can be wrong.
          const field = pageSize < 0 ? "page_size" : "page_token";
          if (pageSize < 0 || a.code !== status.OK) expect({ what: p.what, code: status[a.code], field: a.details.split(":")[0] }).toEqual({ what: p.what, code: "INVALID_ARGUMENT", field });
          if (pageSize >= 0 && pageToken === "") expect(status[a.code]).toBe("OK");
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
    expect(Object.keys(tally).sort()).toEqual(["INVALID_ARGUMENT", "OK"]);
    await stillServing();
  });

  test("messages above 4 MiB are refused with RESOURCE_EXHAUSTED and nothing is applied", async () => {
    const before = await snapshot();
    const huge = "x".repeat(5 * 1024 * 1024);
    const big: Workload = { name: "fz-huge", labels: {}, spec: spec({ args: [huge] }), generation: 0 };
    expect(ApplyWorkloadRequest.encode({ workload: big }).finish().length).toBeGreaterThan(MAX_MESSAGE_BYTES);
    const applied = await ask((md, o, cb) => typed.applyWorkload({ workload: big }, md, o, cb), 10_000);
    expect(status[applied.code]).toBe("RESOURCE_EXHAUSTED");
    const changedKeep = await ask((md, o, cb) => typed.applyWorkload({ workload: { ...keepWorkload(), labels: { big: huge } } }, md, o, cb), 10_000);
    expect(status[changedKeep.code]).toBe("RESOURCE_EXHAUSTED");
    const planned = await ask((md, o, cb) => typed.plan({ workload: big }, md, o, cb), 10_000);
    expect(status[planned.code]).toBe("RESOURCE_EXHAUSTED");
    const lookup = await ask((md, o, cb) => typed.getWorkload({ name: huge }, md, o, cb), 10_000);
    expect(status[lookup.code]).toBe("RESOURCE_EXHAUSTED");
    const enrolled = await sendRaw(anonymous, EnrollmentService.enroll.path, "unary", EnrollRequest.encode({ node: "n", publicKeyPem: huge }).finish());
    expect(status[enrolled.code]).toBe("RESOURCE_EXHAUSTED");
    expect(await snapshot()).toBe(before);
    await stillServing();
  });
});

// ---------------------------------------------------------------------------------------------
// Agent stream misuse

interface StreamEnd {
  code: status;
  details: string;
  received: ControlMessage[];
}

/** Opens an agent stream with the node certificate, writes the messages, half-closes after `endAfterMs`. */
function agentSession(messages: AgentMessage[], endAfterMs = 200): Promise<StreamEnd> {
  return new Promise((resolve) => {
    const received: ControlMessage[] = [];
    const stream = agent.connect(new Metadata(), { deadline: new Date(Date.now() + DEADLINE_MS) });
    stream.on("data", (m: ControlMessage) => received.push(m));
    stream.on("error", () => {});
    stream.on("status", (s: { code: status; details: string }) => resolve({ code: s.code, details: s.details, received }));
    for (const m of messages) stream.write(m);
    setTimeout(() => stream.end(), endAfterMs);
  });
}

describe("agent stream misuse ends the stream with an error status", () => {
  const before = [
    { payload: { $case: "report", value: { instanceId: `${KEEP}-0.1`, generation: 1, state: InstanceState.INSTANCE_STATE_RUNNING, reason: "", stderrTail: "" } } },
    { payload: { $case: "heartbeat", value: {} } },
    { payload: { $case: "ack", value: { commandId: 7, error: "" } } },
    { payload: { $case: "logChunk", value: { commandId: 7, lines: ["x"], eof: true, error: "" } } },
    { payload: { $case: "batch", value: { messages: [{ payload: { $case: "heartbeat", value: {} } }] } } },
    { payload: undefined },
  ] satisfies AgentMessage[];

  for (const first of before) {
    test(`${first.payload?.$case ?? "an empty message"} before hello`, async () => {
      const end = await agentSession([first, hello(AGENT)]);
      expect({ code: status[end.code], details: end.details }).toEqual({ code: "INVALID_ARGUMENT", details: "first message on an agent stream must be hello" });
    });
  }

  test("hello with an invalid node name", async () => {
    await fc.assert(
      fc.asyncProperty(badName, async (node) => {
        const end = await agentSession([hello(node)], 100);
        expect(status[end.code]).toBe("INVALID_ARGUMENT");
        expect(end.details.startsWith("hello.node: expected ")).toBe(true);
      }),
      { seed: SEED, numRuns: 40 },
    );
  });

  test("hello for a node the certificate is not for", async () => {
    const end = await agentSession([hello("someone-else")]);
    expect(status[end.code]).toBe("PERMISSION_DENIED");
    expect(end.details).toContain(AGENT);
  });

  test("hello with an instance in an unknown state", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constant(0), fc.integer({ min: 9, max: 2 ** 31 - 1 }), fc.integer({ min: -(2 ** 31), max: -1 })), async (state) => {
        const end = await agentSession([hello(AGENT, { instances: [{ instanceId: "x-0.1", generation: 1, state, reason: "", stderrTail: "" }] })], 100);
        expect({ code: status[end.code], details: end.details }).toEqual({ code: "INVALID_ARGUMENT", details: `hello.instances.state: expected a known InstanceState, got ${state}` });
      }),
      { seed: SEED, numRuns: 20 },
    );
  });

  test("a hello whose limits text is unbounded, or a usage report past its bound", async () => {
    const long = "x".repeat(1025);
    const end = await agentSession([hello(AGENT, { limits: { enforcedBy: "", notEnforcedReason: long, allowUnenforced: false } })], 100);
    expect({ code: status[end.code], details: end.details }).toEqual({ code: "INVALID_ARGUMENT", details: "hello.limits: expected enforced_by and not_enforced_reason of at most 1024 characters" });
    const copies = Array.from({ length: 10_001 }, (_, k) => ({ instanceId: `x-0.${k}`, cpuMillis: 1, memoryBytes: 1 }));
    const many = await agentSession([hello(AGENT), { payload: { $case: "usage", value: { copies } } }], 100);
    expect({ code: status[many.code], details: many.details }).toEqual({ code: "INVALID_ARGUMENT", details: "usage.copies: expected at most 10000, got 10001" });
  });

  test("hello twice", async () => {
    const end = await agentSession([hello(AGENT), { payload: { $case: "heartbeat", value: {} } }, hello(AGENT)]);
    expect({ code: status[end.code], details: end.details }).toEqual({ code: "INVALID_ARGUMENT", details: "hello may only be sent once per stream" });
  });

  test("a batch holding a hello, another batch or an empty message is refused whole, naming the entry", async () => {
    const heartbeat: AgentMessage = { payload: { $case: "heartbeat", value: {} } };
    const cases: Array<[AgentMessage, string]> = [
      [hello(AGENT), "hello"],
      [{ payload: { $case: "batch", value: { messages: [heartbeat] } } }, "batch"],
      [{ payload: undefined }, "no payload"],
      // Usage is volatile, sent on its own: never in a batch.
      [{ payload: { $case: "usage", value: { copies: [] } } }, "usage"],
    ];
    for (const [inner, got] of cases) {
      const end = await agentSession([hello(AGENT), { payload: { $case: "batch", value: { messages: [heartbeat, inner] } } }]);
      expect({ code: status[end.code], details: end.details }).toEqual({
        code: "INVALID_ARGUMENT",
        details: `batch.messages[1]: expected a report, check, ack, log_chunk, exec_output or heartbeat, got ${got}`,
      });
    }
  });

  test("garbage bytes, first or after a valid hello", async () => {
    for (const garbage of [Buffer.from([0xff]), Buffer.from([0x0a, 0x7f, 0x01]), Buffer.from([0x0a, 0x05, 0x0a, 0x03, 0xc3, 0x28, 0x61, 0x62]), Buffer.from("not a protobuf")]) {
      for (const prefix of [[], [encodeAgent(hello(AGENT))]]) {
        const end = await sendRaw(agentRaw, AgentGatewayService.connect.path, "bidi", garbage, new Metadata(), prefix);
        expect({ garbage: hex(garbage), prefix: prefix.length, code: status[end.code] }).toEqual({ garbage: hex(garbage), prefix: prefix.length, code: "INVALID_ARGUMENT" });
        expect(end.details).toMatch(/^(message: expected a tessera\.v1\.AgentMessage|first message on an agent stream must be hello)/);
      }
    }
  });

  test("a message above 4 MiB", async () => {
    const big = encodeAgent({ payload: { $case: "logChunk", value: { commandId: 1, lines: ["x".repeat(5 * 1024 * 1024)], eof: true, error: "" } } });
    const end = await sendRaw(agentRaw, AgentGatewayService.connect.path, "bidi", big, new Metadata(), [encodeAgent(hello(AGENT))]);
    expect(status[end.code]).toBe("RESOURCE_EXHAUSTED");
  });

  test("without a node certificate a valid hello is UNAUTHENTICATED", async () => {
    const end = await sendRaw(anonymous, AgentGatewayService.connect.path, "bidi", encodeAgent(hello(AGENT)));
    expect(status[end.code]).toBe("UNAUTHENTICATED");
  });

  test("a well-behaved agent still connects afterwards; no refused name became a node", async () => {
    const end = await agentSession([hello(AGENT), { payload: { $case: "heartbeat", value: {} } }], 300);
    expect(status[end.code]).toBe("OK");
    const nodes = await ask<{ nodes: Array<{ name: string }> }>((md, o, cb) => typed.listNodes({ pageSize: 0, pageToken: "" }, md, o, cb));
    expect(nodes.res!.nodes.map((n) => n.name)).toEqual([AGENT]);
    await stillServing();
  });
});

// ---------------------------------------------------------------------------------------------
// Random and mutated bytes at every method

const controlPlaneMethods = Object.values(ControlPlaneService).map((m) => ({ path: m.path, kind: (m.requestStream ? "bidi" : m.responseStream ? "server" : "unary") as Kind }));
const calls: Record<string, Record<string, number>> = {};

describe("random and mutated bytes at every method", () => {
  for (const m of controlPlaneMethods) {
    test(`${m.path} (admin token)`, async () => {
      calls[m.path] = await fuzzMethod(m.path, m.kind);
      await stillServing();
    }, FUZZ_TEST_TIMEOUT_MS);
  }

  test(`${AgentGatewayService.connect.path} as the first message (node certificate)`, async () => {
    calls[`${AgentGatewayService.connect.path} first`] = await fuzzMethod(AgentGatewayService.connect.path, "bidi", { client: agentRaw });
    await stillServing();
  }, FUZZ_TEST_TIMEOUT_MS);

  test(`${AgentGatewayService.connect.path} after a valid hello (node certificate)`, async () => {
    calls[`${AgentGatewayService.connect.path} after hello`] = await fuzzMethod(AgentGatewayService.connect.path, "bidi", { client: agentRaw, before: [encodeAgent(hello(AGENT))] });
    await stillServing();
  }, FUZZ_TEST_TIMEOUT_MS);

  test(`${AgentGatewayService.connect.path} without a certificate`, async () => {
    calls[`${AgentGatewayService.connect.path} anonymous`] = await fuzzMethod(AgentGatewayService.connect.path, "bidi", {
      client: anonymous,
      // Whatever it sends, an anonymous caller never gets a session.
      check: (bytes, a) => problemWith(AgentGatewayService.connect.path, bytes, a) ?? (a.code === status.OK ? "accepted without a certificate" : undefined),
    });
    await stillServing();
  }, FUZZ_TEST_TIMEOUT_MS);

  test(`${EnrollmentService.getCa.path}`, async () => {
    calls[EnrollmentService.getCa.path] = await fuzzMethod(EnrollmentService.getCa.path, "unary", { client: anonymous });
  }, FUZZ_TEST_TIMEOUT_MS);

  test(`${EnrollmentService.enroll.path} (with and without the join token)`, async () => {
    calls[`${EnrollmentService.enroll.path} join token`] = await fuzzMethod(EnrollmentService.enroll.path, "unary", { client: anonymous, metadata: () => bearer(tokenOf("join")) });
    calls[`${EnrollmentService.enroll.path} anonymous`] = await fuzzMethod(EnrollmentService.enroll.path, "unary", { client: anonymous });
    await stillServing();
  }, FUZZ_TEST_TIMEOUT_MS);

  test("without a token, or with a wrong one, every ControlPlane method is UNAUTHENTICATED", async () => {
    const junkToken = fc.stringMatching(/^[!-~]{0,80}$/);
    for (const m of controlPlaneMethods) {
      for (const [which, md] of [
        ["no token", () => new Metadata()],
        ["unknown token", () => bearer(`tessera-admin-${Math.random().toString(36).slice(2)}`)],
      ] as const) {
        calls[`${m.path} ${which}`] = await fuzzMethod(m.path, m.kind, {
          client: anonymous,
          metadata: md,
          runs: BATCH,
          check: (_bytes, a) => (a.code === status.UNAUTHENTICATED ? undefined : `answered ${status[a.code]} (${a.details}) without valid credentials`),
        });
      }
    }
    await fc.assert(
      fc.asyncProperty(junkToken, fc.constantFrom(...controlPlaneMethods), async (token, m) => {
        const a = await sendRaw(anonymous, m.path, m.kind, new Uint8Array(0), bearer(token));
        expect(status[a.code]).toBe("UNAUTHENTICATED");
      }),
      { seed: SEED, numRuns: 50 },
    );
  });

  test("the server still answers, and logged no error", async () => {
    await stillServing();
    const total = Object.values(calls).reduce((n, codes) => n + Object.values(codes).reduce((a, b) => a + b, 0), 0);
    console.log(`rpc-fuzz: ${total} raw calls; answers by method:\n${Object.entries(calls).map(([p, c]) => `  ${p}: ${JSON.stringify(c)}`).join("\n")}`);
    expect(serverErrors).toEqual([]);
  });
});

describe("random and mutated bytes at every method of a standby (PostgreSQL)", () => {
  const pg = postgresSuite("fuzzing a standby");
  let database: PostgresServer | undefined;
  const planes: RunningControlPlane[] = [];
  let standby: Client;
  let leaderAddress = "";
  const pgDir = (name: string) => join(dir, `pg-${name}`);

  beforeAll(async () => {
    if (pg.skip) return;
    database = await startPostgres();
    const common = { listen: "127.0.0.1:0", store: await database.createDatabase("rpc_fuzz"), caSecret: "rpc fuzz test CA secret", log, tickMs: 100, metricsListen: "", lease: { ttlMs: 3_000, renewMs: 500 } };
    const leader = await startControlPlane({ ...common, dataDir: pgDir("a") });
    planes.push(leader);
    leaderAddress = leader.address;
    await eventually("the leader's tokens", () => (existsSync(join(pgDir("a"), "admin-token")) ? true : undefined));
    planes.push(await startControlPlane({ ...common, dataDir: pgDir("b") }));
    const perCall = credentials.createFromMetadataGenerator((_params, cb) => cb(null, bearer(readFileSync(join(pgDir("a"), "admin-token"), "utf8").trim())));
    standby = track(new Client(planes[1]!.address, credentials.combineChannelCredentials(credentials.createSsl(readFileSync(join(pgDir("a"), "pki", "ca.pem"))), perCall), CHANNEL_OPTIONS));
    await eventually("the standby answers reads", async () => ((await sendRaw(standby, ControlPlaneService.listWorkloads.path, "unary", new Uint8Array(0), new Metadata())).code === status.OK ? true : undefined));
  });
  afterAll(async () => {
    for (const p of planes.reverse()) await p.stop();
    database?.remove();
  });

  for (const m of controlPlaneMethods) {
    const method = m.path.slice(m.path.lastIndexOf("/") + 1) as ControlPlaneMethod;
    const leaderOnly = METHOD_ACCESS[method] === "write" || m.path === ControlPlaneService.logs.path;
    test.skipIf(pg.skip)(`${m.path} on a standby: ${leaderOnly ? "refused naming the leader" : "answered from its state"}`, async () => {
      calls[`${m.path} standby`] = await fuzzMethod(m.path, m.kind, {
        client: standby,
        check: (bytes, a) =>
          !leaderOnly ? problemWith(m.path, bytes, a) : a.code === status.UNAVAILABLE && a.details.startsWith(`not the leader; the leader is at ${leaderAddress} `) ? undefined : `answered ${status[a.code]} (${a.details})`,
      });
    }, FUZZ_TEST_TIMEOUT_MS);
  }

  test.skipIf(pg.skip)("the standby still answers, and nothing logged an error", async () => {
    expect((await sendRaw(standby, ControlPlaneService.listWorkloads.path, "unary", new Uint8Array(0), new Metadata())).code).toBe(status.OK);
    expect(serverErrors).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Bugs the fuzzing found, all fixed: each test is the reproducer, kept so that they stay fixed.

/** A control plane of its own, for reproducers that leave it in a bad state. */
async function scratchControlPlane<T>(body: (c: ControlPlaneClient, address: string) => Promise<T>): Promise<T> {
  const d = mkdtempSync(join(tmpdir(), "tessera-rpc-fuzz-todo-"));
  const plane = await startControlPlane({ listen: "127.0.0.1:0", dataDir: d, log, tickMs: 100, insecure: true });
  const c = new ControlPlaneClient(plane.address, credentials.createInsecure());
  try {
    return await body(c, plane.address);
  } finally {
    c.close();
    await plane.stop();
    rmSync(d, { recursive: true, force: true });
  }
}

/** The longest single-argument workload whose ApplyWorkloadRequest still fits in 4 MiB. */
function largestWorkloadThatFits(name: string): Workload {
  const make = (n: number): Workload => ({ name, labels: {}, spec: spec({ args: ["x".repeat(n)] }), generation: 0 });
  let n = MAX_MESSAGE_BYTES - 64;
  while (ApplyWorkloadRequest.encode({ workload: make(n + 1) }).finish().length <= MAX_MESSAGE_BYTES) n++;
  return make(n);
}

describe("bugs found by fuzzing stay fixed", () => {
  test("Enroll answers undecodable bytes (e.g. the single byte ff) with INVALID_ARGUMENT", async () => {
    // createEnrollmentService did not check undecodable(): validateName(undefined) threw inside
    // a floating async function, the rejection was unhandled and the callback never ran. No
    // token was needed.
    const a = await sendRaw(anonymous, EnrollmentService.enroll.path, "unary", Uint8Array.from([0xff]));
    expect(status[a.code]).toBe("INVALID_ARGUMENT");
  });

  test("an ApplyWorkload request that fits in 4 MiB is refused or answered OK", async () => {
    await scratchControlPlane(async (c) => {
      const w = largestWorkloadThatFits("edge");
      const a = await ask((md, o, cb) => c.applyWorkload({ workload: w }, md, o, cb), 10_000);
      const stored = await ask<{ workloads: Workload[] }>((md, o, cb) => c.listWorkloads({ pageSize: 0, pageToken: "" }, md, o, cb), 10_000);
      // Before the fix: RESOURCE_EXHAUSTED "Sent message larger than max (4194350 vs. 4194304)"
      // for the answer, although the workload was committed (ListWorkloads failed the same way).
      expect(status[a.code]).not.toBe("RESOURCE_EXHAUSTED");
      expect(status[stored.code]).toBe("OK");
    });
  });

  test("an accepted workload never pushes GetWorkload or ListWorkloads over the 4 MiB answer limit", async () => {
    await scratchControlPlane(async (c) => {
      // A spec above the cap is refused naming the field; the largest accepted ones still fit
      // every answer (GetWorkload returns the spec twice: the workload and its event).
      const huge = await ask((md, o, cb) => c.applyWorkload({ workload: { name: "huge", labels: {}, spec: spec({ args: ["x".repeat(2.5 * 1024 * 1024)] }), generation: 0 } }, md, o, cb), 10_000);
      expect([status[huge.code], huge.details?.startsWith("workload.spec: expected at most 256 KiB")]).toEqual(["INVALID_ARGUMENT", true]);
      for (const name of ["big-a", "big-b"]) {
        const a = await ask((md, o, cb) => c.applyWorkload({ workload: { name, labels: {}, spec: spec({ args: ["x".repeat(250 * 1024)] }), generation: 0 } }, md, o, cb), 10_000);
        expect(status[a.code]).toBe("OK");
      }
      const got = await ask((md, o, cb) => c.getWorkload({ name: "big-a" }, md, o, cb), 10_000);
      const list = await ask((md, o, cb) => c.listWorkloads({ pageSize: 0, pageToken: "" }, md, o, cb), 10_000);
      expect({ get: status[got.code], list: status[list.code] }).toEqual({ get: "OK", list: "OK" });
    });
  });

  test("an accepted workload never ends its node's agent stream", async () => {
    await scratchControlPlane(async (c, address) => {
      const node = new AgentGatewayClient(address, credentials.createInsecure());
      try {
        const stream = node.connect(new Metadata(), { deadline: new Date(Date.now() + 10_000) });
        // The workload's start command reaching the node, or how the stream ended first.
        const outcome = new Promise<string>((resolve) => {
          stream.on("status", (s: { code: status; details: string }) => resolve(`ended with ${status[s.code]}: ${s.details}`));
          stream.on("data", (m: ControlMessage) => m.command?.$case === "start" && m.command.value.workload === "poison" && resolve("started"));
        });
        stream.on("error", () => {});
        stream.write(hello("n1", { executors: ["process"] }));
        // About the largest spec accepted: its start command is the largest message a node gets.
        const poison: Workload = { name: "poison", labels: {}, spec: spec({ args: ["x".repeat(MAX_SPEC_BYTES - 1024)] }), generation: 0 };
        const applied = await ask((md, o, cb) => c.applyWorkload({ workload: poison }, md, o, cb), 10_000);
        expect(status[applied.code]).toBe("OK");
        // Before specs were capped, a 4 MiB workload was accepted and its start command ended
        // the stream: RESOURCE_EXHAUSTED "Sent message larger than max (4194331 vs. 4194304)".
        expect(await outcome).toBe("started");
        stream.end();
      } finally {
        node.close();
      }
    });
  });

  test("map keys named __proto__ are kept, or refused where the key is invalid; never dropped silently", async () => {
    await scratchControlPlane(async (c) => {
      const env = JSON.parse('{"__proto__": "x", "OK": "y"}') as Record<string, string>;
      const labels = JSON.parse('{"__proto__": "v"}') as Record<string, string>;
      // Not spec({ env }): fromPartial on this side is what is under test too.
      const withEnv = { ...spec(), env };
      expect(Object.keys(PlanRequest.decode(PlanRequest.encode({ workload: { name: "p", labels, spec: withEnv, generation: 0 } }).finish()).workload!.spec!.env)).toEqual(["__proto__", "OK"]);
      expect(Object.keys(Workload.fromPartial({ name: "p", labels }).labels)).toEqual(["__proto__"]);
      expect(Object.keys((Workload.toJSON({ name: "p", labels, spec: withEnv, generation: 0 }) as { labels: object }).labels)).toEqual(["__proto__"]);
      // "__proto__" is no label key (it must start with a letter or digit): refused, naming it.
      const refused = await ask((md, o, cb) => c.applyWorkload({ workload: { name: "proto", labels, spec: withEnv, generation: 0 } }, md, o, cb));
      expect(status[refused.code]).toBe("INVALID_ARGUMENT");
      expect(refused.details).toContain("workload.labels.__proto__");
      // It is a valid environment variable name: kept, stored and answered back.
      const a = await ask((md, o, cb) => c.applyWorkload({ workload: { name: "proto", labels: {}, spec: withEnv, generation: 0 } }, md, o, cb));
      expect(status[a.code]).toBe("OK");
      const got = await ask<{ workload?: Workload }>((md, o, cb) => c.getWorkload({ name: "proto" }, md, o, cb));
      expect(got.res!.workload!.spec!.env).toEqual(env);
      expect(Object.keys(got.res!.workload!.spec!.env).sort()).toEqual(["OK", "__proto__"]);
    });
  });

  test("NUL bytes in command, args, env values and working_dir are refused (a process cannot be spawned with them)", async () => {
    await scratchControlPlane(async (c) => {
      for (const over of [{ command: "/bin/tr\0ue" }, { args: ["a\0b"] }, { env: { A: "x\0y" } }, { workingDir: "/tmp\0x" }]) {
        const a = await ask((md, o, cb) => c.applyWorkload({ workload: { name: "nul", labels: {}, spec: spec(over), generation: 0 } }, md, o, cb));
        expect(status[a.code]).toBe("INVALID_ARGUMENT");
      }
    });
  });

  test("initial_backoff above the default max_backoff (30s) is refused like an explicit max_backoff below it", async () => {
    await scratchControlPlane(async (c) => {
      const a = await ask((md, o, cb) => c.applyWorkload({ workload: { name: "backoff", labels: {}, spec: spec({ restartPolicy: { mode: 1, initialBackoff: { seconds: 60, nanos: 0 } } }), generation: 0 } }, md, o, cb));
      expect(status[a.code]).toBe("INVALID_ARGUMENT");
    });
  });

  test("a Duration with nanos outside ±999,999,999 is refused", async () => {
    await scratchControlPlane(async (c) => {
      const a = await ask((md, o, cb) => c.applyWorkload({ workload: { name: "nanos", labels: {}, spec: spec({ stopGracePeriod: { seconds: 0, nanos: 1_500_000_000 } }), generation: 0 } }, md, o, cb));
      expect(status[a.code]).toBe("INVALID_ARGUMENT");
    });
  });

  test("node lookups refuse malformed names with INVALID_ARGUMENT, as workload lookups do", async () => {
    const a = await ask((md, o, cb) => typed.getNode({ name: "Bad_Name" }, md, o, cb));
    expect(status[a.code]).toBe("INVALID_ARGUMENT");
  });

  test("an agent's hello labels and executors are validated like a workload's", async () => {
    await scratchControlPlane(async (c, address) => {
      const node = new AgentGatewayClient(address, credentials.createInsecure());
      try {
        const end = await new Promise<{ code: status }>((resolve) => {
          const stream = node.connect();
          stream.on("status", resolve);
          stream.on("data", () => {});
          stream.on("error", () => {});
          stream.write(hello("n1", { labels: { "Bad Key!": "v".repeat(1000) }, executors: ["", "nonsense"] }));
          setTimeout(() => stream.end(), 200);
        });
        expect(status[end.code]).toBe("INVALID_ARGUMENT");
      } finally {
        node.close();
      }
    });
  });

  test.each([
    [{ advertiseAddress: "node-a.example" }, 'hello.advertise_address: expected an IPv4 address, got "node-a.example"'],
    [{ advertiseAddress: "10.0.0.1", portRange: { from: 32000, to: 20000 } }, "hello.port_range: expected ports from 1 to 65535, from ≤ to, got 32000-20000"],
    [{ advertiseAddress: "10.0.0.1", reservedPorts: [{ from: 22, to: 22 }, { from: 0, to: 80 }] }, "hello.reserved_ports[1]: expected ports from 1 to 65535, from ≤ to, got 0-80"],
    [{ hostVolumes: [{ name: "Data", path: "/srv/data", readOnly: false }] }, `hello.host_volumes[0].name: expected a DNS label (lower-case letters, digits, '-'; at most 63 characters), got "Data"`],
    [{ hostVolumes: [{ name: "data", path: "/srv/data", readOnly: false }, { name: "logs", path: "srv/logs", readOnly: true }] }, 'hello.host_volumes[1].path: expected an absolute path, got "srv/logs"'],
  ])("an agent's advertised ports and host volumes are refused naming the field (%#)", async (over, details) => {
    await scratchControlPlane(async (_c, address) => {
      const node = new AgentGatewayClient(address, credentials.createInsecure());
      try {
        const end = await new Promise<{ code: status; details: string }>((resolve) => {
          const stream = node.connect();
          stream.on("status", resolve);
          stream.on("data", () => {});
          stream.on("error", () => {});
          stream.write(hello("n1", over));
          setTimeout(() => stream.end(), 200);
        });
        expect([status[end.code], end.details]).toEqual(["INVALID_ARGUMENT", details]);
      } finally {
        node.close();
      }
    });
  });
});
