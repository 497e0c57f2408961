/**
 * The heartbeat scaled to the fleet (#33), through a real control plane and real agents in
 * process: a cap of 2 heartbeats a second makes a fleet of three beat every 2 s, longer than the
 * configured Suspect threshold (1.5 s). Each agent is told the interval when the third one
 * connects, beats at it, and no node is ever judged Suspect (the thresholds grew with the
 * interval: Suspect after 4 s, Offline after 5.5 s). Then one agent's stream alone, against a
 * bare gateway: told an interval it beats at once, and cut off it counts its silence from an
 * interval before it gave up the stream. Waits on what the agents log and the control plane
 * records, with deadlines.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, Server, ServerCredentials, type ServerDuplexStream, type ServiceError } from "@grpc/grpc-js";
import { Agent } from "../../src/agent/agent.js";
import { ControlStream } from "../../src/agent/control-stream.js";
import { intervalMessage } from "../../src/control/grpc/agent-heartbeats.js";
import { SimulatedExecutor } from "../../src/agent/simulated-executor.js";
import { type RunningControlPlane, startControlPlane } from "../../src/control/lifecycle/server.js";
import { heartbeatTiming } from "../../src/core/model/heartbeat.js";
import { NO_PORTS } from "../../src/core/model/ports.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { type AgentMessage, AgentGatewayService, type ControlMessage, Hello } from "../../src/gen/tessera/v1/agent_gateway.js";
import { ControlPlaneClient } from "../../src/gen/tessera/v1/control_plane.js";
import type { Event as WireEvent } from "../../src/gen/tessera/v1/types.js";
import type { LogFields, Logger } from "../../src/shell/logger.js";
import { eventually } from "../e2e/harness.js";

const POLICY = { ...DEFAULT_POLICY, maxHeartbeatsPerSecond: 2, suspectAfterMs: 1_500, offlineAfterMs: 3_000 };
const NODES = ["hb-a", "hb-b", "hb-c"];

/** What an agent logged, with when. */
type Line = { msg: string; at: number; fields: LogFields };
function recording(lines: Line[]): Logger {
  const log = (msg: string, fields: LogFields = {}) => lines.push({ msg, at: performance.now(), fields });
  const logger: Logger = { error: log, warn: log, info: log, debug: log, with: () => logger };
  return logger;
}

let dir: string;
let cp: RunningControlPlane;
let api: ControlPlaneClient;
const agents: Agent[] = [];
const logs = new Map<string, Line[]>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tessera-heartbeat-interval-"));
  const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };
  cp = await startControlPlane({ listen: "127.0.0.1:0", dataDir: dir, log: silent, tickMs: 200, insecure: true, policy: POLICY });
  api = new ControlPlaneClient(cp.address, credentials.createInsecure());
  for (const node of NODES) {
    const lines: Line[] = [];
    logs.set(node, lines);
    const agent = new Agent({ control: cp.address, node, executor: new SimulatedExecutor(), version: "test", labels: {}, capacity: { cpuMillis: 1000, memoryMb: 1024 }, ports: NO_PORTS, hostVolumes: [], log: recording(lines) });
    agents.push(agent);
    await agent.start();
  }
});
afterAll(async () => {
  for (const a of agents) a.close();
  api.close();
  await cp.stop();
  rmSync(dir, { recursive: true, force: true });
});

const nodeEvents = (name: string) =>
  new Promise<WireEvent[]>((resolve, reject) => api.getNode({ name }, (err: ServiceError | null, res) => (err ? reject(err) : resolve(res.events))));

test("a fleet told a 2 s interval beats every 2 s, and no node is judged Suspect though 2 s is past the configured 1.5 s", async () => {
  const t = heartbeatTiming(NODES.length, POLICY);
  expect(t).toMatchObject({ intervalMs: 2_000, suspectAfterMs: 4_000, offlineAfterMs: 5_500 });
  // Told when the third node connected: each agent says so, then beats at the new interval.
  const toldAt = new Map<string, number>();
  await eventually(
    "every agent told the 2 s interval",
    () => {
      for (const [node, lines] of logs) {
        const told = lines.find((l) => l.msg === "heartbeat interval" && l.fields.intervalMs === 2_000);
        if (told) toldAt.set(node, told.at);
      }
      return toldAt.size === NODES.length ? true : undefined;
    },
    10_000,
  );
  // Three beats each after being told (the first at once), 2 s apart: about 4 s.
  const beatsSinceTold = (node: string) => logs.get(node)!.filter((l) => l.msg === "heartbeat" && l.at >= toldAt.get(node)!).map((l) => l.at);
  await eventually("three beats of every agent at the new interval", () => (NODES.every((n) => beatsSinceTold(n).length >= 3) ? true : undefined), 20_000, 100);
  for (const node of NODES) {
    const beats = beatsSinceTold(node);
    // Timers never fire early (a loaded machine only makes them later): no two beats closer than the interval, less a little rounding.
    for (let i = 1; i < beats.length; i++) expect(beats[i]! - beats[i - 1]!).toBeGreaterThanOrEqual(t.intervalMs - 50);
  }
  for (const node of NODES) {
    const events = await nodeEvents(node);
    expect(events.map((e) => e.type)).toContain("NodeConnected");
    expect(events.filter((e) => e.type === "NodeHealthChanged").map((e) => e.summary)).toEqual([]);
  }
});

/** A bare AgentGateway on a free port: it tells each hello `intervalMs` and keeps when beats arrive. */
async function tellingGateway(intervalMs: number): Promise<{ port: number; beats: number[]; stop(): void }> {
  const server = new Server();
  const beats: number[] = [];
  server.addService(AgentGatewayService, {
    connect: (s: ServerDuplexStream<AgentMessage, ControlMessage>) => {
      s.on("data", (m: AgentMessage) => {
        if (m.payload?.$case === "heartbeat") beats.push(performance.now());
        if (m.payload?.$case !== "hello") return;
        s.write({ commandId: 0, command: { $case: "endpoints", value: { full: true, set: [], removed: [] } } });
        s.write(intervalMessage(intervalMs));
      });
      s.on("error", () => {});
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return { port, beats, stop: () => server.forceShutdown() };
}

test("told an interval, an agent beats at once; cut off, it counts its silence from one interval before it gave up its stream (invariant 37)", async () => {
  const gw = await tellingGateway(30_000);
  const stream = new ControlStream({ control: `127.0.0.1:${gw.port}`, node: "n1", log: recording([]), heartbeatMs: 60_000, reconnectMs: 100, maxReconnectMs: 200 }, { hello: () => Hello.fromPartial({ node: "n1" }), synced() {}, command() {}, lost() {} });
  try {
    stream.connect();
    // Its own interval is a minute: a beat within the wait is the one sent when told.
    await eventually("a beat at once when told", () => (gw.beats.length > 0 ? true : undefined), 10_000, 10);
    gw.stop();
    const lostAt = Date.now();
    // The control plane may have last heard it up to 30 s before it gave up: the deadline counts from there.
    await eventually("the stream given up", () => (stream.lastHeardAt() <= lostAt - 29_000 ? true : undefined), 10_000, 20);
    expect(stream.lastHeardAt()).toBeGreaterThan(lostAt - 31_000);
  } finally {
    stream.close();
    gw.stop();
  }
});

/** A bare AgentGateway that answers each heartbeat (as the control plane does for an agent that asks) while `answering`, and counts hellos. */
async function answeringGateway(): Promise<{ port: number; hellos: Hello[]; answering: { on: boolean }; lastAnswerAt: () => number; stop(): void }> {
  const server = new Server();
  const hellos: Hello[] = [];
  const answering = { on: true };
  let last = 0;
  server.addService(AgentGatewayService, {
    connect: (s: ServerDuplexStream<AgentMessage, ControlMessage>) => {
      s.on("data", (m: AgentMessage) => {
        if (m.payload?.$case === "hello") {
          hellos.push(m.payload.value);
          s.write({ commandId: 0, command: { $case: "endpoints", value: { full: true, set: [], removed: [] } } });
        }
        if (m.payload?.$case === "heartbeat" && answering.on) {
          s.write(intervalMessage(0));
          last = Date.now();
        }
      });
      s.on("error", () => {});
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return { port, hellos, answering, lastAnswerAt: () => last, stop: () => server.forceShutdown() };
}

test("an agent asks for its heartbeats to be answered, keeps a stream that answers, and gives up one gone quiet (open but silent) within two intervals and 2 s", async () => {
  const gw = await answeringGateway();
  const lines: Line[] = [];
  const stream = new ControlStream({ control: `127.0.0.1:${gw.port}`, node: "n1", log: recording(lines), heartbeatMs: 200, reconnectMs: 100, maxReconnectMs: 200 }, { hello: () => Hello.fromPartial({ node: "n1" }), synced() {}, command() {}, lost() {} });
  try {
    stream.connect();
    await eventually("the hello", () => (gw.hellos.length === 1 ? true : undefined), 10_000, 10);
    expect(gw.hellos[0]!.answerHeartbeats).toBe(true);
    // Answered, it stays: still one hello after ten intervals and more than the silence allowed (2.4 s).
    const answeredUntil = Date.now() + 3_000;
    await eventually("3 s answered", () => (Date.now() >= answeredUntil ? true : undefined), 5_000, 50);
    expect(gw.hellos.length).toBe(1);
    // Gone quiet: the connection stays open, nothing answers.
    gw.answering.on = false;
    const quietAt = Date.now();
    await eventually("the stream given up and dialled afresh", () => (gw.hellos.length === 2 ? true : undefined), 10_000, 10);
    const gaveUp = lines.find((l) => l.msg === "control plane stream lost; reconnecting");
    expect(String(gaveUp?.fields.why)).toStartWith("no word from the control plane in");
    // Two intervals and 2 s of silence, noticed at the next beat: about 2.4–2.6 s after the last answer.
    expect(Date.now() - quietAt).toBeGreaterThanOrEqual(2_400 - 200);
  } finally {
    stream.close();
    gw.stop();
  }
});
