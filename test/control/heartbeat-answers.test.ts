/**
 * Which heartbeats the gateway answers, for an agent that asks (Hello.answer_heartbeats): a
 * stream's first beat always; a later one only when nothing went down the stream since the beat
 * before it, since the agent judges its stream by any word on it and under a burst the
 * commands already say it is alive. A real control plane (in this process, plaintext) and bare
 * agent streams, each ended by a second hello once its beats are sent: the gateway handles a
 * stream's messages in order, so every answer they got arrives before the end.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ClientDuplexStream, credentials } from "@grpc/grpc-js";
import { startControlPlane } from "../../src/control/lifecycle/server.js";
import type { Logger } from "../../src/shell/logger.js";
import { type AgentMessage, AgentGatewayClient, ControlMessage } from "../../src/gen/tessera/v1/agent_gateway.js";
import { ControlPlaneClient } from "../../src/gen/tessera/v1/control_plane.js";
import { eventually } from "../e2e/harness.js";
import { spec } from "../core/fixtures.js";
import { bareHello } from "./bare-hello.js";

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };
const dir = mkdtempSync(join(tmpdir(), "tessera-heartbeat-answers-"));
let cp: Awaited<ReturnType<typeof startControlPlane>>;
let agents: AgentGatewayClient;
let client: ControlPlaneClient;
const streams: ClientDuplexStream<AgentMessage, ControlMessage>[] = [];

beforeAll(async () => {
  cp = await startControlPlane({ listen: "127.0.0.1:0", dataDir: dir, log: silent, insecure: true });
  agents = new AgentGatewayClient(cp.address, credentials.createInsecure());
  client = new ControlPlaneClient(cp.address, credentials.createInsecure());
});
afterAll(async () => {
  for (const s of streams) s.cancel();
  agents.close();
  client.close();
  await cp.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A bare agent on `node` (labelled tier=`node`): what it is sent, and a heartbeat to send. */
function agent(node: string, answerHeartbeats: boolean) {
  const received: ControlMessage[] = [];
  const s = agents.connect();
  streams.push(s);
  s.on("data", (m: ControlMessage) => received.push(m));
  let ended = false;
  s.on("error", () => (ended = true));
  s.write(bareHello(node, { executors: ["process"], labels: { tier: node }, capacity: { cpuMillis: 4000, memoryMb: 4096 }, answerHeartbeats, acceptsBatches: true }));
  const answers = () => received.filter((m) => m.command?.$case === "heartbeatInterval").length;
  const starts = () => received.flatMap((m) => (m.command?.$case === "batch" ? m.command.value.messages : [m])).filter((m) => m.command?.$case === "start").length;
  return { received, answers, starts, beat: () => s.write({ payload: { $case: "heartbeat", value: {} } }), send: (m: AgentMessage) => s.write(m), ended: () => ended };
}

const apply = (name: string, tier: string) =>
  new Promise<void>((resolve, reject) => client.applyWorkload({ workload: { name, labels: {}, spec: spec({ replicas: 1, nodeSelector: { tier } }), generation: 0 } }, (err) => (err ? reject(err) : resolve())));

test("the first beat is answered, a beat after which commands went down is not, the next quiet one is", async () => {
  const a = agent("busy", true);
  await eventually("the node known", () => new Promise<true | undefined>((r) => client.listNodes({ pageSize: 0, pageToken: "" }, (e, res) => r(!e && res.nodes.some((n) => n.name === "busy") ? true : undefined))));
  // The hello's endpoints went down already: the first beat is answered all the same.
  a.beat();
  await eventually("the first beat answered", () => (a.answers() === 1 ? true : undefined));
  // Nothing since: answered.
  a.beat();
  await eventually("a quiet beat answered", () => (a.answers() === 2 ? true : undefined));
  await apply("on-busy", "busy");
  await eventually("its start", () => (a.starts() === 1 ? true : undefined));
  // The start went down after the last beat: this one is not answered, the one after it is.
  a.beat();
  a.beat();
  // A second hello ends the stream once both beats are handled (the gateway takes a stream's
  // messages in order): every answer they got came before the end.
  a.send(bareHello("busy"));
  await eventually("the stream ended", () => (a.ended() ? true : undefined));
  expect(a.answers()).toBe(3);
});

test("an agent that does not ask is never answered", async () => {
  const older = agent("older", false);
  await eventually("the node known", () => new Promise<true | undefined>((r) => client.listNodes({ pageSize: 0, pageToken: "" }, (e, res) => r(!e && res.nodes.some((n) => n.name === "older") ? true : undefined))));
  older.beat();
  older.beat();
  // A second hello is refused, ending the stream: the gateway handles a stream's messages in
  // order, so an answer to either beat would have come before the end.
  older.send(bareHello("older"));
  await eventually("the stream ended", () => (older.ended() ? true : undefined));
  expect(older.answers()).toBe(0);
});
