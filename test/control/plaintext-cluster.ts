/**
 * A real control plane in the test's process (plaintext, a data dir of its own), started before
 * the file's tests and stopped after them, with a ControlPlane client and bare agent streams a
 * test opens by hand: each a node labelled tier=<its name> with the process executor, recording
 * what it is sent.
 */
import { afterAll, beforeAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ClientDuplexStream, credentials } from "@grpc/grpc-js";
import { type RunningControlPlane, startControlPlane } from "../../src/control/lifecycle/server.js";
import type { Logger } from "../../src/shell/logger.js";
import { type AgentMessage, AgentGatewayClient, type ControlMessage, type DeepPartial, type Hello } from "../../src/gen/tessera/v1/agent_gateway.js";
import { ControlPlaneClient } from "../../src/gen/tessera/v1/control_plane.js";
import { eventually } from "../e2e/harness.js";
import { spec } from "../core/fixtures.js";
import { bareHello } from "./bare-hello.js";

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };

export function plaintextCluster(name: string) {
  const dir = mkdtempSync(join(tmpdir(), `tessera-${name}-`));
  let cp: RunningControlPlane;
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

  /** A bare agent on `node`, its hello with `over`: what it is sent, a way to send, and whether its stream ended. */
  function agent(node: string, over: DeepPartial<Hello> = {}) {
    const received: ControlMessage[] = [];
    let ended = false;
    const s = agents.connect();
    streams.push(s);
    s.on("data", (m: ControlMessage) => received.push(m));
    s.on("error", () => (ended = true));
    s.write(bareHello(node, { executors: ["process"], labels: { tier: node }, capacity: { cpuMillis: 4000, memoryMb: 4096 }, ...over }));
    return { received, send: (m: AgentMessage) => s.write(m), ended: () => ended };
  }

  /** Waits until the control plane knows every one of `nodes`. */
  const nodesKnown = (...nodes: string[]) =>
    eventually(`nodes ${nodes.join(", ")} known`, () => new Promise<true | undefined>((r) => client.listNodes({ pageSize: 0, pageToken: "" }, (e, res) => r(!e && nodes.every((n) => res.nodes.some((x) => x.name === n)) ? true : undefined))));

  /** Applies a workload of `replicas` copies placed on the node named `tier`. */
  const apply = (workload: string, tier: string, replicas: number) =>
    new Promise<void>((resolve, reject) => client.applyWorkload({ workload: { name: workload, labels: {}, spec: spec({ replicas, nodeSelector: { tier } }), generation: 0 } }, (err) => (err ? reject(err) : resolve())));

  return { agent, nodesKnown, apply };
}
