/**
 * What an agent puts on its stream: a real Agent with the simulated executor against a bare
 * grpc-js AgentGateway server (plaintext, loopback) that records every message it receives
 * and sends the commands a test gives it.
 */
import { NO_PORTS } from "../../src/core/model/ports.js";
import { afterEach, expect, test } from "bun:test";
import { type ServerDuplexStream, Server, ServerCredentials } from "@grpc/grpc-js";
import { Agent } from "../../src/agent/agent.js";
import { SimulatedExecutor } from "../../src/agent/simulated-executor.js";
import type { Logger } from "../../src/shell/logger.js";
import { type AgentMessage, AgentGatewayService, type ControlMessage } from "../../src/gen/tessera/v1/agent_gateway.js";
import { InstanceState } from "../../src/gen/tessera/v1/types.js";
import { eventually } from "../e2e/harness.js";
import { spec } from "../core/fixtures.js";

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };

interface Gateway {
  received: AgentMessage[];
  send(msg: ControlMessage): void;
  stop(): void;
}

/** An AgentGateway that records and never answers on its own. */
async function gateway(): Promise<{ gw: Gateway; address: string }> {
  const server = new Server();
  const received: AgentMessage[] = [];
  let stream: ServerDuplexStream<AgentMessage, ControlMessage> | undefined;
  server.addService(AgentGatewayService, {
    connect: (s: ServerDuplexStream<AgentMessage, ControlMessage>) => {
      stream = s;
      s.on("data", (m: AgentMessage) => received.push(m));
      s.on("error", () => {});
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return { address: `127.0.0.1:${port}`, gw: { received, send: (m) => stream!.write(m), stop: () => server.forceShutdown() } };
}

let cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup) c();
  cleanup = [];
});

async function connected(): Promise<{ gw: Gateway; agent: Agent }> {
  const { gw, address } = await gateway();
  const agent = new Agent({ control: address, node: "n1", executor: new SimulatedExecutor(), version: "test", labels: {}, capacity: { cpuMillis: 1000, memoryMb: 1024 }, ports: NO_PORTS, hostVolumes: [], log: silent, heartbeatMs: 60_000 });
  cleanup.push(() => agent.close(), () => gw.stop());
  await agent.start();
  await eventually("hello", async () => (gw.received.length > 0 ? true : undefined));
  return { gw, agent };
}

/** Messages as sent one by one: batches opened. */
const unpacked = (messages: AgentMessage[]) => messages.flatMap((m) => (m.payload?.$case === "batch" ? m.payload.value.messages : [m]));

/**
 * Sends a command the agent does not know and waits for its ack. The stream is ordered: what
 * the agent sent before the ack has arrived, so a test can then check that nothing else did.
 */
async function acked(gw: Gateway, commandId: number): Promise<void> {
  gw.send({ commandId, command: undefined });
  await eventually(`the ack of command ${commandId}`, async () =>
    unpacked(gw.received).some((m) => m.payload?.$case === "ack" && m.payload.value.commandId === commandId) ? true : undefined,
  );
}

const start = (commandId: number, i: number): ControlMessage => ({
  commandId,
  command: { $case: "start", value: { instanceId: `w-${i}.${i + 1}`, name: `w-${i}`, workload: "w", generation: 1, spec: spec(), ports: [], hostIp: "", delivered: [] } },
});

test("starting a copy sends provisioning, running and the ack in one AgentBatch, in that order", async () => {
  const { gw } = await connected();
  gw.send(start(7, 0));
  await eventually("a batch", async () => (gw.received.length > 1 ? true : undefined));
  await acked(gw, 8);
  expect(gw.received.map((m) => m.payload?.$case)).toEqual(["hello", "batch", "ack"]);
  const inner = gw.received[1]!.payload!.$case === "batch" ? gw.received[1]!.payload!.value.messages : [];
  expect(inner.map((m) => (m.payload?.$case === "report" ? m.payload.value.state : m.payload?.$case))).toEqual([InstanceState.INSTANCE_STATE_PROVISIONING, InstanceState.INSTANCE_STATE_RUNNING, "ack"]);
});

test("what the agent has ready at once goes together; a lone message goes as itself", async () => {
  const { gw } = await connected();
  for (let i = 0; i < 3; i++) gw.send(start(i + 1, i));
  await eventually("three acks", async () => (unpacked(gw.received).filter((m) => m.payload?.$case === "ack").length === 3 ? true : undefined));
  expect(unpacked(gw.received.slice(1))).toHaveLength(9);
  expect(gw.received.length).toBeLessThan(1 + 9);
  // A stop of something the agent does not hold is answered by a report and an ack, together.
  const before = gw.received.length;
  gw.send({ commandId: 9, command: { $case: "stop", value: { instanceId: "gone-0.1", gracePeriodMs: 0, generation: 1 } } });
  await eventually("the answer", async () => (gw.received.length > before ? true : undefined));
  // A command it does not know is answered by a lone ack, sent as itself; it follows all of the stop's answer.
  await acked(gw, 10);
  expect(gw.received.slice(before).map((m) => m.payload?.$case)).toEqual(["batch", "ack"]);
  const last = gw.received[before + 1]!;
  expect(last.payload!.$case === "ack" && last.payload!.value).toEqual({ commandId: 10, error: "unknown command" });
});

test("log chunks are never batched: each goes as its own message", async () => {
  const { gw } = await connected();
  gw.send({ commandId: 3, command: { $case: "logs", value: { instanceId: "w-0.1", tail: 0, follow: false } } });
  await eventually("the end of the logs", async () => (gw.received.some((m) => m.payload?.$case === "logChunk") ? true : undefined));
  expect(gw.received.map((m) => m.payload?.$case)).toEqual(["hello", "logChunk"]);
});

test("a ControlBatch's commands are carried out in order, each acknowledged as if it had come alone; a batch inside one is refused", async () => {
  const { gw } = await connected();
  const hello = gw.received[0]!.payload;
  expect(hello?.$case === "hello" && hello.value.acceptsBatches).toBe(true);
  const stop: ControlMessage = { commandId: 3, command: { $case: "stop", value: { instanceId: "gone-0.1", gracePeriodMs: 0, generation: 1 } } };
  const nested: ControlMessage = { commandId: 4, command: { $case: "batch", value: { messages: [start(5, 5)] } } };
  gw.send({ commandId: 0, command: { $case: "batch", value: { messages: [start(1, 0), start(2, 1), stop, nested] } } });
  await eventually("four acks", async () => (unpacked(gw.received).filter((m) => m.payload?.$case === "ack").length === 4 ? true : undefined));
  const sent = unpacked(gw.received.slice(1));
  // Acks come as each command ends (a start waits for its copy), as they would unbatched.
  const acks = sent.flatMap((m) => (m.payload?.$case === "ack" ? [m.payload.value] : [])).sort((a, b) => a.commandId - b.commandId);
  expect(acks).toEqual([
    { commandId: 1, error: "" },
    { commandId: 2, error: "" },
    { commandId: 3, error: "" },
    { commandId: 4, error: "unknown command" },
  ]);
  // Both starts ran, the stop of a copy it does not hold was answered, the nested batch's start never ran.
  const reports = sent.flatMap((m) => (m.payload?.$case === "report" ? [`${m.payload.value.instanceId} ${InstanceState[m.payload.value.state]}`] : []));
  expect(reports.filter((r) => !r.includes("PROVISIONING")).sort()).toEqual(["gone-0.1 INSTANCE_STATE_STOPPED", "w-0.1 INSTANCE_STATE_RUNNING", "w-1.2 INSTANCE_STATE_RUNNING"]);
});
