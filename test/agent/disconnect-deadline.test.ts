/**
 * The agent's half of the disconnect block (#29 item 6): a copy whose spec sets
 * stop_on_client_after is stopped once the agent has heard no control plane for that long.
 * The deadlines on a fake clock, then a real Agent whose control plane goes away and comes back.
 */
import { afterEach, expect, jest, test } from "bun:test";
import { type ServerDuplexStream, Server, ServerCredentials } from "@grpc/grpc-js";
import { Agent } from "../../src/agent/agent.js";
import { DisconnectDeadline } from "../../src/agent/disconnect-deadline.js";
import { SimulatedExecutor } from "../../src/agent/simulated-executor.js";
import { NO_PORTS } from "../../src/core/model/ports.js";
import { copiesPastDeadline } from "../../src/core/model/disconnect.js";
import type { Logger } from "../../src/shell/logger.js";
import { type AgentMessage, AgentGatewayService, type ControlMessage, type StartInstance } from "../../src/gen/tessera/v1/agent_gateway.js";
import { InstanceState, type WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { eventually } from "../e2e/harness.js";
import { spec } from "../core/fixtures.js";

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };
const cutOffAfter = (seconds: number, nanos = 0): WorkloadSpec => spec({ disconnect: { stopOnClientAfter: { seconds, nanos } } });
const startOf = (i: number, s: WorkloadSpec): StartInstance => ({ instanceId: `w-${i}.${i + 1}`, name: `w-${i}`, workload: "w", generation: 1, spec: s, ports: [], hostIp: "", delivered: [] });

test.each<{ silence: number; stopped: string[] }>([
  { silence: 10_000, stopped: [] },
  { silence: 10_001, stopped: ["a"] },
  { silence: 60_001, stopped: ["a", "b"] },
])("copiesPastDeadline after $silence ms of silence: $stopped", ({ silence, stopped }) => {
  const copies = [
    { instanceId: "a", stopOnClientAfterMs: 10_000 },
    { instanceId: "b", stopOnClientAfterMs: 60_000 },
  ];
  expect(copiesPastDeadline(copies, 1_000, 1_000 + silence)).toEqual(stopped);
});

test("the deadlines on a fake clock: each copy that asked for one is stopped once, with its grace period; the others never", () => {
  let now = 0;
  let heard = 0;
  const stops: Array<{ instanceId: string; gracePeriodMs: number }> = [];
  const d = new DisconnectDeadline({ lastHeardAt: () => heard, now: () => now, stop: (c) => stops.push({ instanceId: c.instanceId, gracePeriodMs: c.gracePeriodMs }) }, silent);
  d.track(startOf(0, cutOffAfter(10)));
  d.track(startOf(1, spec()));
  d.track(startOf(2, { ...cutOffAfter(10), stopGracePeriod: { seconds: 3, nanos: 0 } }));
  d.track(startOf(3, cutOffAfter(10)));
  d.forget("w-3.4");
  now = 60_000;
  heard = 55_000;
  d.check();
  expect(stops).toEqual([]);
  heard = 0;
  d.check();
  d.check();
  expect(stops).toEqual([
    { instanceId: "w-0.1", gracePeriodMs: 10_000 },
    { instanceId: "w-2.3", gracePeriodMs: 3_000 },
  ]);
});

test("the timer runs only while a copy with a deadline is tracked: an agent without one is never woken for it", () => {
  jest.useFakeTimers();
  try {
    let checks = 0;
    const d = new DisconnectDeadline({ lastHeardAt: () => (checks++, Date.now()), stop: () => {} }, silent);
    d.start();
    d.track(startOf(1, spec()));
    jest.advanceTimersByTime(5_000);
    expect(checks).toBe(0);
    d.track(startOf(2, cutOffAfter(60)));
    jest.advanceTimersByTime(5_000);
    expect(checks).toBe(10);
    d.forget("w-2.3");
    jest.advanceTimersByTime(5_000);
    expect(checks).toBe(10);
    d.track(startOf(3, cutOffAfter(60)));
    d.stop();
    jest.advanceTimersByTime(5_000);
    expect(checks).toBe(10);
  } finally {
    jest.useRealTimers();
  }
});

let cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup) c();
  cleanup = [];
});

/** A bare AgentGateway on `port` (0: a free one) that answers each hello as a control plane does (with endpoints) and records what it receives, batches opened. */
async function gateway(port: number, received: AgentMessage[]): Promise<{ port: number; send(m: ControlMessage): void; stop(): void }> {
  const server = new Server();
  let stream: ServerDuplexStream<AgentMessage, ControlMessage> | undefined;
  server.addService(AgentGatewayService, {
    connect: (s: ServerDuplexStream<AgentMessage, ControlMessage>) => {
      stream = s;
      s.on("data", (m: AgentMessage) => {
        received.push(...(m.payload?.$case === "batch" ? m.payload.value.messages : [m]));
        if (m.payload?.$case !== "hello") return;
        s.write({ commandId: 0, command: { $case: "endpoints", value: { full: true, set: [], removed: [] } } });
      });
      s.on("error", () => {});
    },
  });
  const bound = await new Promise<number>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return { port: bound, send: (m) => stream!.write(m), stop: () => server.forceShutdown() };
}

test("an agent that hears no control plane stops the copies that asked for it, and says so when it is back", async () => {
  const received: AgentMessage[] = [];
  const first = await gateway(0, received);
  // The executor says which copies the agent stopped: the signal the cut is waited on.
  const stopped: string[] = [];
  const executor = new SimulatedExecutor();
  const start = executor.start.bind(executor);
  executor.start = async (req) => {
    const running = await start(req);
    return { ...running, stop: (graceMs: number) => (stopped.push(req.instanceId), running.stop(graceMs)) };
  };
  const agent = new Agent({ control: `127.0.0.1:${first.port}`, node: "n1", executor, version: "test", labels: {}, capacity: { cpuMillis: 1000, memoryMb: 1024 }, ports: NO_PORTS, hostVolumes: [], log: silent, heartbeatMs: 200, reconnectMs: 100, maxReconnectMs: 200 });
  cleanup.push(() => agent.close());
  await agent.start();
  await eventually("hello", async () => (received.length > 0 ? true : undefined));
  first.send({ commandId: 1, command: { $case: "start", value: startOf(0, cutOffAfter(0, 500_000_000)) } });
  first.send({ commandId: 2, command: { $case: "start", value: startOf(1, spec()) } });
  await eventually("both started", async () => (received.filter((m) => m.payload?.$case === "ack").length === 2 ? true : undefined));
  first.stop();
  // The control plane stays away until the agent, on its own, stopped the copy whose deadline
  // passed (0.5 s, checked every 0.5 s); then it is back on its address.
  await eventually("the cut-off copy stopped by its agent", async () => (stopped.length > 0 ? true : undefined), 10_000);
  expect(stopped).toEqual(["w-0.1"]);
  const after: AgentMessage[] = [];
  const second = await gateway(first.port, after);
  cleanup.push(() => second.stop());
  const stoppedReports = () => after.flatMap((m) => (m.payload?.$case === "report" && m.payload.value.state === InstanceState.INSTANCE_STATE_STOPPED ? [m.payload.value.instanceId] : []));
  await eventually("the stop reported", async () => (stoppedReports().length > 0 ? true : undefined));
  expect(stoppedReports()).toEqual(["w-0.1"]);
});
