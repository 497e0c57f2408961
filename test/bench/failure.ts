/**
 * Benchmark 5, failure: two agents (`dist/tessera agent --simulated`, separate processes) share
 * a workload evenly; kill -9 one of them and time until every replica runs on the survivor,
 * with the control plane's default thresholds (heartbeat 1 s, Suspect 3 s, Offline 5 s).
 * Docker Swarm marks a node down after about 15 s and Nomad after 20–30 s by default; those
 * are their documented defaults, not measured here.
 */
import { join } from "node:path";
import { ControlPlaneClient, type GetWorkloadResponse } from "../../src/gen/tessera/v1/control_plane.js";
import { InstanceState, NodeHealth, Workload } from "../../src/gen/tessera/v1/types.js";
import { adminChannel, eventually, Harness } from "../e2e/harness.js";
import { cells, round, type Section, stats, verdict } from "./report.js";

const GOAL_MS = 5_000;
/** The Offline threshold the control plane uses by default: no failover can be faster. */
const OFFLINE_AFTER_MS = 5_000;

function getWorkload(client: ControlPlaneClient, name: string): Promise<GetWorkloadResponse> {
  return new Promise((resolve, reject) => client.getWorkload({ name }, (err, res) => (err ? reject(err) : resolve(res))));
}

/** Kills an agent holding `perNode` instances; ms until all 2 × `perNode` run on the other. */
export async function runFailure(perNode: number): Promise<number> {
  const h = new Harness();
  let client: ControlPlaneClient | undefined;
  try {
    const { address } = await h.startControl("127.0.0.1:0", { TESSERA_LOG: "info" });
    const agent = (name: string) => h.start(["agent", "--control", address, "--name", name, "--simulated", "--data-dir", join(h.dir, name)], { TESSERA_LOG: "info" });
    const victim = agent("victim");
    agent("survivor");
    const { creds, options } = adminChannel(join(h.dir, "control"));
    client = new ControlPlaneClient(address, creds, options);
    const replicas = 2 * perNode;
    const running = async (notOn?: string) =>
      (await getWorkload(client!, "fo")).instances.filter((i) => i.observedState === InstanceState.INSTANCE_STATE_RUNNING && i.node !== notOn).length;
    const ready = () =>
      new Promise<number>((resolve, reject) =>
        client!.listNodes({ pageSize: 0, pageToken: "" }, (err, res) => (err ? reject(err) : resolve(res.nodes.filter((n) => n.health === NodeHealth.NODE_HEALTH_READY).length))),
      );
    // Spread puts half the replicas on each node: apply once both nodes are Ready.
    await eventually("both agents Ready", async () => ((await ready()) === 2 ? true : undefined), 30_000);
    const workload = Workload.fromPartial({ name: "fo", spec: { command: "/bin/sleep", args: ["3600"], replicas, resources: { cpuMillis: 10, memoryMb: 1 } } });
    await new Promise<void>((resolve, reject) => client!.applyWorkload({ workload }, (err) => (err ? reject(err) : resolve())));
    await eventually(`${replicas} running`, async () => ((await running()) === replicas ? true : undefined), 30_000);
    const held = (await getWorkload(client, "fo")).instances.filter((i) => i.node === "victim").length;
    if (held !== perNode) throw new Error(`the victim holds ${held} instances, not ${perNode}`);
    const t0 = performance.now();
    victim.proc.kill("SIGKILL");
    await eventually("every replica on the survivor", async () => ((await running("victim")) === replicas ? true : undefined), 60_000, 20);
    return performance.now() - t0;
  } finally {
    client?.close();
    await h.stop();
  }
}

const PER_NODE = 100;

export async function benchFailure(runs: number): Promise<Section> {
  const ms: number[] = [];
  for (let r = 0; r < runs; r++) {
    ms.push(await runFailure(PER_NODE));
    console.log(`run ${r + 1}/${runs}: ${round(ms[r]!, 0)} ms`);
  }
  const s = stats(ms);
  return {
    name: "failure",
    order: 5,
    results: { perNode: PER_NODE, goalMs: GOAL_MS, offlineAfterMs: OFFLINE_AFTER_MS, recoveryMs: s },
    markdown: `## 5. Failure: kill -9 an agent holding ${PER_NODE} instances

Two agents (separate \`dist/tessera agent --simulated\` processes) share ${2 * PER_NODE} replicas; one is
killed with SIGKILL and the clock runs until all ${2 * PER_NODE} run on the other, with the default
thresholds (heartbeat 1 s, Suspect after 3 s, Offline after ${OFFLINE_AFTER_MS / 1000} s of silence). The floor is
the Offline threshold itself minus up to one heartbeat interval (the last heartbeat came before the
kill). Docker Swarm marks a node down after ~15 s, Nomad after 20–30 s (their defaults, not
measured here).

| measure | median | min | max | × Offline threshold | goal |
|---|---|---|---|---|---|
| kill → all running elsewhere | ${cells(s, "ms")} | ${round(s.median / OFFLINE_AFTER_MS, 2)} | ≤ ${GOAL_MS} ms ${verdict(s.median <= GOAL_MS)} |
`,
  };
}
