/**
 * What a store holds of a leader's commits, without a database: each turn's writes
 * (turnWrites, as both stores run them) applied to rows, and the log's rows appended; read back
 * with the stores' own row mapping, as the snapshot a follower starts from (storedState).
 */
import type { ClusterEvent } from "../../src/core/events/cluster-events.js";
import { storedState } from "../../src/core/events/stored-state.js";
import type { ClusterState, NodeIdentity, TokenRecord } from "../../src/core/model/cluster-state.js";
import { eventToRow, failuresFromRows, instanceFromRow, nodeFromRow, workloadFromRow } from "../../src/control/store/rows.js";
import { turnWrites } from "../../src/control/store/turn-writes.js";

type Writes = ReturnType<typeof turnWrites>;

export class StoredRows {
  private readonly workloads = new Map<string, Writes["workloads"]["upsert"][number]>();
  private readonly instances = new Map<string, Writes["instances"]["upsert"][number]>();
  private readonly nodes = new Map<string, Writes["nodes"][number]>();
  private readonly tokens = new Map<string, TokenRecord>();
  private readonly identities = new Map<string, NodeIdentity>();
  private readonly log: ReturnType<typeof eventToRow>[] = [];
  private nextInstanceSeq = 1;
  private listeningSince: number | undefined;

  /** One turn's commit: `state` is the leader's with the turn's events applied. */
  commit(events: ClusterEvent[], state: ClusterState): void {
    const w = turnWrites(events, state);
    this.log.push(...w.events.map((e) => e.row));
    for (const row of w.workloads.upsert) this.workloads.set(row.name, row);
    for (const name of w.workloads.delete) this.workloads.delete(name);
    for (const row of w.instances.upsert) this.instances.set(row.id, row);
    for (const id of w.instances.delete) this.instances.delete(id);
    for (const row of w.nodes) this.nodes.set(row.name, row);
    for (const { kind, active } of w.tokens) {
      for (const [hash, t] of this.tokens) if (t.kind === kind) this.tokens.delete(hash);
      for (const { hash, ...t } of active) this.tokens.set(hash, t);
    }
    for (const { node, ...identity } of w.identities) this.identities.set(node, identity);
    if (w.nextInstanceSeq !== undefined) this.nextInstanceSeq = w.nextInstanceSeq;
    if (w.listeningSince !== undefined) this.listeningSince = w.listeningSince;
  }

  /** What a follower loads: the rows read back (structuredClone: a database hands back copies). */
  snapshot(): ClusterState {
    const instances = [...this.instances.values()].map((r) => instanceFromRow(structuredClone(r)));
    // As the stores read them: placements and failures of copies, and quarantine lifts.
    const failing = this.log.filter((r) => r.type === "QuarantineLifted" || (r.type === "InstanceTransitioned" && r.instance !== null && (r.node !== null || (JSON.parse(r.data) as { event: { type: string } }).event.type === "fail")));
    return storedState({
      workloads: [...this.workloads.values()].map((r) => workloadFromRow(structuredClone(r))),
      instances,
      nodes: [...this.nodes.values()].map((r) => nodeFromRow(structuredClone(r))),
      nextInstanceSeq: this.nextInstanceSeq,
      failures: failuresFromRows(
        failing.map((r) => ({ instance: r.instance, node: r.node, at: r.at, lifted: r.type === "QuarantineLifted" ? r.workload : null })),
        new Map(instances.map((i) => [i.id, i.node])),
      ),
      tokens: [...this.tokens].map(([hash, t]) => ({ hash, ...structuredClone(t) })),
      nodeIdentities: [...this.identities].map(([node, identity]) => ({ node, ...structuredClone(identity) })),
      listeningSince: this.listeningSince,
    });
  }
}
