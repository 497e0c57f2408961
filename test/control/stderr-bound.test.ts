/**
 * A report's stderr tail is never trusted for its size: an agent (buggy or hostile) that sends
 * 1 MiB of stderr_tail, in a report or in a reconnecting hello, gets a bounded tail recorded
 * (≤ STDERR_TAIL_BYTES, ≤ STDERR_TAIL_LINES), in the instance's record and in the event log,
 * its last line kept. A real control plane in process, spoken to over the real agent stream.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ClientDuplexStream, credentials, type ServiceError } from "@grpc/grpc-js";
import { type RunningControlPlane, startControlPlane } from "../../src/control/lifecycle/server.js";
import type { Logger } from "../../src/shell/logger.js";
import { STDERR_TAIL_BYTES, STDERR_TAIL_LINES } from "../../src/core/output/stderr-tail.js";
import { AgentGatewayClient, type AgentMessage, type ControlMessage, type StartInstance } from "../../src/gen/tessera/v1/agent_gateway.js";
import { ControlPlaneClient } from "../../src/gen/tessera/v1/control_plane.js";
import { type Event as WireEvent, type Instance as WireInstance, InstanceState, RestartMode, WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { eventually } from "../e2e/harness.js";
import { bareHello } from "./bare-hello.js";

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };
const NODE = "n-stderr";
const LAST = "the line that explains";
/** 1 MiB of stderr ending with LAST. */
const HUGE = `${Array.from({ length: 16_384 }, (_, k) => `noise ${k}`.padEnd(63, ".")).join("\n")}\n${LAST}\n`;

let dir: string;
let cp: RunningControlPlane;
let api: ControlPlaneClient;
let agents: AgentGatewayClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tessera-stderr-bound-"));
  cp = await startControlPlane({ listen: "127.0.0.1:0", dataDir: dir, log: silent, tickMs: 50, insecure: true });
  api = new ControlPlaneClient(cp.address, credentials.createInsecure());
  agents = new AgentGatewayClient(cp.address, credentials.createInsecure());
});
afterAll(async () => {
  api.close();
  agents.close();
  await cp.stop();
  rmSync(dir, { recursive: true, force: true });
});

const call = <Res>(run: (cb: (err: ServiceError | null, res: Res) => void) => unknown) =>
  new Promise<Res>((resolve, reject) => run((err, res) => (err ? reject(err) : resolve(res))));

/** A fake agent on the real stream: it says hello, beats, and keeps the start commands it gets. */
function connect(instances: Extract<AgentMessage["payload"], { $case: "hello" }>["value"]["instances"] = []) {
  const stream: ClientDuplexStream<AgentMessage, ControlMessage> = agents.connect();
  const starts: StartInstance[] = [];
  stream.on("data", (m: ControlMessage) => m.command?.$case === "start" && starts.push(m.command.value));
  stream.on("error", () => {});
  stream.write(bareHello(NODE, { executors: ["process"], instances }));
  // Heard from every 500 ms: far inside the Suspect threshold.
  const beat = setInterval(() => stream.write({ payload: { $case: "heartbeat", value: {} } }), 500);
  return {
    starts,
    report: (value: Extract<AgentMessage["payload"], { $case: "report" }>["value"]) => stream.write({ payload: { $case: "report", value } }),
    /** Ends the stream and waits until the control plane recorded it: the node may connect again at once. */
    async close() {
      clearInterval(beat);
      stream.end();
      await eventually("the stream's end recorded", async () => {
        const res = await call<{ events: WireEvent[] }>((cb) => api.getNode({ name: NODE }, cb));
        return res.events.at(-1)?.type === "NodeDisconnected" ? true : undefined;
      });
    },
  };
}

async function applyOne(name: string): Promise<void> {
  const spec = WorkloadSpec.fromPartial({ command: "/bin/false", restartPolicy: { mode: RestartMode.RESTART_MODE_NEVER } });
  await call((cb) => api.applyWorkload({ workload: { name, labels: {}, spec, generation: 0, createdAt: undefined, status: undefined } }, cb));
}

/** The instance once its failure is recorded, and the failure's event. */
async function recordedFailure(workload: string): Promise<{ instance: WireInstance; listed: WireInstance; event: WireEvent }> {
  const instance = await eventually(`${workload}'s failure recorded`, async () => {
    const res = await call<{ instances: WireInstance[] }>((cb) => api.getWorkload({ name: workload }, cb));
    return res.instances.find((i) => i.stderrTail !== "");
  });
  const listed = (await call<{ instances: WireInstance[] }>((cb) => api.listInstances({ workload, pageSize: 0, pageToken: "" }, cb))).instances.find((i) => i.id === instance.id)!;
  const history = await call<{ events: WireEvent[] }>((cb) => api.getHistory({ workload, limit: 0, pageSize: 0, pageToken: "" }, cb));
  const event = history.events.find((e) => e.instance === instance.id && e.detail.includes('"type":"fail"'))!;
  return { instance, listed, event };
}

function expectBounded(tail: string): void {
  expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(STDERR_TAIL_BYTES);
  expect(tail.split("\n").length).toBeLessThanOrEqual(STDERR_TAIL_LINES);
  expect(tail.endsWith(LAST)).toBe(true);
}

function expectRecordedBounded(r: Awaited<ReturnType<typeof recordedFailure>>): void {
  expectBounded(r.instance.stderrTail);
  expectBounded(r.listed.stderrTail);
  const logged = (JSON.parse(r.event.detail) as { event: { stderrTail: string } }).event.stderrTail;
  expectBounded(logged);
  expect(logged).toBe(r.instance.stderrTail);
  expect(r.event.summary).toBe(`${r.instance.id} exited with code 1: ${LAST}`);
}

test("1 MiB of stderr_tail in a report is recorded bounded, in the record and in the log", async () => {
  const agent = connect();
  try {
    await applyOne("loud");
    const start = await eventually("the start command", () => agent.starts.find((s) => s.workload === "loud"));
    const at = { instanceId: start.instanceId, generation: start.generation };
    agent.report({ ...at, state: InstanceState.INSTANCE_STATE_PROVISIONING, reason: "", stderrTail: "" });
    agent.report({ ...at, state: InstanceState.INSTANCE_STATE_RUNNING, reason: "", stderrTail: "" });
    agent.report({ ...at, state: InstanceState.INSTANCE_STATE_FAILED, reason: "exited with code 1", exitCode: 1, stderrTail: HUGE });
    expect(Buffer.byteLength(HUGE)).toBeGreaterThanOrEqual(1024 * 1024);
    expectRecordedBounded(await recordedFailure("loud"));
  } finally {
    await agent.close();
  }
});

test("1 MiB of stderr_tail in a reconnecting hello is recorded bounded too", async () => {
  const first = connect();
  let start: StartInstance;
  try {
    await applyOne("loud-hello");
    start = await eventually("the start command", () => first.starts.find((s) => s.workload === "loud-hello"));
    const at = { instanceId: start.instanceId, generation: start.generation };
    first.report({ ...at, state: InstanceState.INSTANCE_STATE_PROVISIONING, reason: "", stderrTail: "" });
    first.report({ ...at, state: InstanceState.INSTANCE_STATE_RUNNING, reason: "", stderrTail: "" });
    await eventually("loud-hello running", async () => {
      const res = await call<{ instances: WireInstance[] }>((cb) => api.getWorkload({ name: "loud-hello" }, cb));
      return res.instances.some((i) => i.observedState === InstanceState.INSTANCE_STATE_RUNNING) ? true : undefined;
    });
  } finally {
    await first.close();
  }
  // The copy failed while the agent was away; its next hello says so, with all of its stderr.
  const again = connect([{ instanceId: start.instanceId, generation: start.generation, state: InstanceState.INSTANCE_STATE_FAILED, reason: "exited with code 1", exitCode: 1, stderrTail: HUGE }]);
  try {
    expectRecordedBounded(await recordedFailure("loud-hello"));
  } finally {
    await again.close();
  }
});
