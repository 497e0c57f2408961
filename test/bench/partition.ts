/**
 * Benchmark 15, partition (#29): a fleet on four hosts in network namespaces (the lab of
 * test/lab/lab.ts: a control plane on `cp`, agents on `a`, `b`, `c`, the control plane's default
 * thresholds: heartbeat 1 s, Suspect after 3 s, Offline after 5 s). A workload has a copy on
 * each agent host; `a` is cut off the network, its process alive. Timed: from the cut until the
 * workload's copies run as processes on the other hosts, `replicas` of them; then, the link back
 * after the partition, until exactly `replicas` copies run on all hosts (a's stale one stopped).
 * Copies are counted as processes on the hosts (the truth), polled every 20 ms.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually } from "../e2e/harness.js";
import { copiesOn, type Host, Lab } from "../lab/lab.js";
import { cells, round, type Section, stats, verdict } from "./report.js";

const REPLICAS = 3;
const GOAL_ELSEWHERE_MS = 6_000;
const GOAL_SETTLED_MS = 2_000;

export interface PartitionRun {
  /** From the cut until `replicas` copies run on the hosts still reachable. */
  elsewhereMs: number;
  /** From the link's return until exactly `replicas` copies run on all hosts. */
  settledMs: number;
}

/** How many copies of `workload` run on `hosts`, as processes. */
const count = (hosts: Host[], workload: string) => hosts.reduce((n, h) => n + copiesOn(h, workload).size, 0);

/** `runs` partitions of `partitionMs` each, on one lab. */
export async function runPartition(runs: number, partitionMs: number): Promise<PartitionRun[]> {
  const lab = new Lab(["cp", "a", "b", "c"]);
  const out: PartitionRun[] = [];
  try {
    const cp = lab.host("cp");
    const agents = ["a", "b", "c"].map((n) => lab.host(n));
    const [a, ...others] = agents as [Host, Host, Host];
    await lab.startControl(cp);
    for (const host of agents) lab.startAgent(host, cp);
    const ctl = async (...args: string[]) => {
      const res = await lab.ctl(cp, cp, args);
      if (res.code !== 0) throw new Error(`ctl ${args.join(" ")} exited ${res.code}: ${res.stderr}`);
      return res.stdout;
    };
    await eventually("three nodes Ready", async () => {
      const nodes = (JSON.parse(await ctl("get", "nodes", "-o", "json")) as { nodes?: Array<{ health: string }> }).nodes ?? [];
      return nodes.filter((n) => n.health === "NODE_HEALTH_READY").length === 3 ? true : undefined;
    }, 30_000, 200);
    for (let r = 0; r < runs; r++) {
      const name = `part-${r}`;
      const file = join(cp.dir, `${name}.json`);
      writeFileSync(file, JSON.stringify({ name, spec: { command: "/bin/sleep", args: ["3600"], replicas: REPLICAS } }));
      await ctl("apply", "-f", file, "--wait", "--timeout", "30");
      if (copiesOn(a, name).size !== 1) throw new Error(`spread left ${copiesOn(a, name).size} copies on a, not 1`);
      lab.cut(a);
      const cutAt = performance.now();
      await eventually(`${REPLICAS} copies off a`, () => (count(others, name) === REPLICAS ? true : undefined), 60_000, 20);
      const elsewhereMs = performance.now() - cutAt;
      await Bun.sleep(Math.max(0, partitionMs - (performance.now() - cutAt)));
      lab.heal(a);
      const healedAt = performance.now();
      await eventually(`exactly ${REPLICAS} copies`, () => (copiesOn(a, name).size === 0 && count(agents, name) === REPLICAS ? true : undefined), 60_000, 20);
      const settledMs = performance.now() - healedAt;
      out.push({ elsewhereMs, settledMs });
      console.log(`run ${r + 1}/${runs}: running elsewhere ${round(elsewhereMs, 0)} ms after the cut, settled ${round(settledMs, 0)} ms after the heal`);
      await ctl("delete", "workload", name);
      await eventually(`${name} gone`, () => (count(agents, name) === 0 ? true : undefined), 30_000, 100);
    }
    return out;
  } finally {
    await lab.stop();
  }
}

const PARTITION_MS = 10_000;

export async function benchPartition(runs: number): Promise<Section> {
  const all = await runPartition(runs, PARTITION_MS);
  const s = { elsewhereMs: stats(all.map((r) => r.elsewhereMs)), settledMs: stats(all.map((r) => r.settledMs)) };
  return {
    name: "partition",
    order: 15,
    results: { replicas: REPLICAS, partitionMs: PARTITION_MS, goalElsewhereMs: GOAL_ELSEWHERE_MS, goalSettledMs: GOAL_SETTLED_MS, ...s, runs: all },
    markdown: `## 15. Partition: an agent's host cut off the network, then back

Four hosts in network namespaces on one machine (the lab of test/lab): a control plane, three
agents. A workload of ${REPLICAS} \`sleep\` copies has one on each agent host; one host's link is set
down for ${PARTITION_MS / 1000} s, its agent and copy still running, then set up again. The control plane's
defaults (heartbeat 1 s, Offline after 5 s of silence) bound the first row from below; the
second is how soon the agent, back, has its stale copy stopped (it dials afresh within its
connect timeout, 3 s, after a cut). Copies are counted as processes on the hosts.

| measure | median | min | max | goal |
|---|---|---|---|---|
| cut → ${REPLICAS} copies running on the other hosts | ${cells(s.elsewhereMs, "ms")} | ≤ ${GOAL_ELSEWHERE_MS} ms ${verdict(s.elsewhereMs.median <= GOAL_ELSEWHERE_MS)} |
| link back → exactly ${REPLICAS} copies | ${cells(s.settledMs, "ms")} | ≤ ${GOAL_SETTLED_MS} ms ${verdict(s.settledMs.median <= GOAL_SETTLED_MS)} |
`,
  };
}
