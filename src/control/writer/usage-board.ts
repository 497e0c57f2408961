/**
 * What copies use, as their agents last sampled it: volatile state of the leader, held in memory
 * per node (each report replaces the node's last), never recorded in the log or replayed, and
 * forgotten when the node's stream goes. Readers take a copy's sample only from the node the
 * control plane placed it on, and only while it runs. Shell.
 */
import type { ClusterView, Instance } from "../../core/model/cluster-state.js";
import type { CopyUsage } from "../../gen/tessera/v1/agent_gateway.js";
import type { ResourceUsage } from "../../gen/tessera/v1/types.js";

/** Copies one report may carry: more than any node runs, so a report past it is refused. */
export const MAX_USAGE_COPIES = 10_000;

interface NodeSample {
  at: number;
  copies: Map<string, CopyUsage>;
}

export class UsageBoard {
  private readonly nodes = new Map<string, NodeSample>();

  record(node: string, copies: readonly CopyUsage[], at: number): void {
    this.nodes.set(node, { at, copies: new Map(copies.map((c) => [c.instanceId, c])) });
  }

  forget(node: string): void {
    this.nodes.delete(node);
  }

  /** A running copy's last sample, from the node it is placed on. */
  ofInstance(i: Readonly<Instance>): ResourceUsage | undefined {
    if (i.node === null || i.state !== "running") return undefined;
    const sample = this.nodes.get(i.node);
    const c = sample?.copies.get(i.id);
    return c && sample ? { cpuMillis: c.cpuMillis, memoryBytes: c.memoryBytes, sampledAt: new Date(sample.at) } : undefined;
  }

  /** Per node and per workload, the sums of their running copies' samples: what `top` and /metrics show. */
  totals(state: ClusterView): { nodes: Map<string, ResourceUsage>; workloads: Map<string, ResourceUsage> } {
    const nodes = new Map<string, ResourceUsage>();
    const workloads = new Map<string, ResourceUsage>();
    const add = (m: Map<string, ResourceUsage>, key: string, u: ResourceUsage) => {
      const t = m.get(key);
      if (!t) m.set(key, { ...u });
      else {
        t.cpuMillis += u.cpuMillis;
        t.memoryBytes += u.memoryBytes;
      }
    };
    for (const [node, sample] of this.nodes) {
      for (const id of sample.copies.keys()) {
        const i = state.instances.get(id);
        const u = i && i.node === node ? this.ofInstance(i) : undefined;
        if (!u || !i) continue;
        add(nodes, node, u);
        add(workloads, i.workload, u);
      }
    }
    return { nodes, workloads };
  }
}
