/**
 * A table of endpoints kept in step by differences. PURE. The control plane keeps one to send
 * endpoint watchers and agents only what changed (recomputing only the workloads a turn's
 * events touch); each agent keeps one, filled from those differences, to answer DNS. It is
 * changed in place, as the cluster state is (copying 10,000 endpoints per turn would cost more
 * than the turn).
 */
import type { ClusterEvent } from "../events/cluster-events.js";
import type { ClusterView } from "../model/cluster-state.js";
import { type Endpoint, endpointsOf } from "./endpoints.js";
import { touches } from "../events/event-facts.js";

/** An endpoint's identity: one per port of one copy. */
export interface EndpointKey {
  instance: string;
  portName: string;
}

/** What to apply to a table: with `full`, it replaces the table's whole contents. */
export interface EndpointsDiff {
  full: boolean;
  set: Endpoint[];
  removed: EndpointKey[];
}

const FIELDS = ["workload", "instance", "name", "node", "address", "portName", "hostPort", "protocol", "ready"] as const satisfies readonly (keyof Endpoint)[];

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return FIELDS.every((f) => a[f] === b[f]);
}

/** What a refresh changed, endpoint by endpoint (a removed one as it was). */
export interface EndpointChanges {
  added: Endpoint[];
  changed: Endpoint[];
  removed: Endpoint[];
}

export function hasChanges(c: EndpointChanges): boolean {
  return c.added.length + c.changed.length + c.removed.length > 0;
}

/** The changes as a difference another table applies. */
export function diffOf(c: EndpointChanges): EndpointsDiff {
  return { full: false, set: [...c.added, ...c.changed], removed: c.removed.map((e) => ({ instance: e.instance, portName: e.portName })) };
}

export class EndpointTable {
  /** Workload → instance id → port name → endpoint. */
  private readonly byWorkload = new Map<string, Map<string, Map<string, Endpoint>>>();
  /** Instance id → workload: a removal names only the instance, and a removed copy is no longer in the view. */
  private readonly workloadOf = new Map<string, string>();
  /** Node → instance ids with endpoints there: a node's new address changes all of theirs. */
  private readonly onNode = new Map<string, Set<string>>();

  /** The endpoints of one workload, or of all, in no particular order. */
  list(workload?: string): Endpoint[] {
    const workloads = workload === undefined ? [...this.byWorkload.values()] : [this.byWorkload.get(workload) ?? new Map()];
    return workloads.flatMap((instances) => [...instances.values()].flatMap((ports) => [...ports.values()]));
  }

  /** The whole table, as a difference that replaces a receiver's. */
  snapshot(): EndpointsDiff {
    return { full: true, set: this.list(), removed: [] };
  }

  apply(diff: EndpointsDiff): void {
    if (diff.full) {
      this.byWorkload.clear();
      this.workloadOf.clear();
      this.onNode.clear();
    }
    for (const k of diff.removed) this.remove(k);
    for (const e of diff.set) this.put(e);
  }

  /**
   * Workloads whose endpoints the events may have changed. Copies without ports never have
   * endpoints, so their transitions touch nothing: workloads without ports cost no recompute.
   */
  touchedBy(events: readonly ClusterEvent[], view: ClusterView): Set<string> {
    const out = new Set<string>();
    for (const e of events) {
      const t = touches(e);
      if (t.workload !== undefined) out.add(t.workload);
      if (t.instance !== undefined) {
        const inst = view.instances.get(t.instance);
        const known = this.workloadOf.get(t.instance);
        if (known !== undefined) out.add(known);
        else if (inst && inst.ports.length > 0) out.add(inst.workload);
      }
      if (e.type === "NodeConnected") {
        for (const id of this.onNode.get(e.name) ?? []) out.add(this.workloadOf.get(id)!);
      }
    }
    return out;
  }

  /** Recomputes the given workloads from the view, applies the result and returns what changed. */
  refresh(view: ClusterView, workloads: Iterable<string>): EndpointChanges {
    const changes: EndpointChanges = { added: [], changed: [], removed: [] };
    for (const w of workloads) {
      const before = this.byWorkload.get(w);
      const after = endpointsOf(view, w);
      const kept = new Set<string>();
      for (const e of after) {
        const old = before?.get(e.instance)?.get(e.portName);
        kept.add(`${e.instance}\n${e.portName}`);
        if (!old) changes.added.push(e);
        else if (!sameEndpoint(old, e)) changes.changed.push(e);
      }
      for (const [instance, ports] of before ?? []) {
        for (const [portName, e] of ports) if (!kept.has(`${instance}\n${portName}`)) changes.removed.push(e);
      }
    }
    this.apply(diffOf(changes));
    return changes;
  }

  private put(e: Endpoint): void {
    let instances = this.byWorkload.get(e.workload);
    if (!instances) this.byWorkload.set(e.workload, (instances = new Map()));
    let ports = instances.get(e.instance);
    if (!ports) instances.set(e.instance, (ports = new Map()));
    ports.set(e.portName, e);
    this.workloadOf.set(e.instance, e.workload);
    let ids = this.onNode.get(e.node);
    if (!ids) this.onNode.set(e.node, (ids = new Set()));
    ids.add(e.instance);
  }

  private remove(k: EndpointKey): void {
    const workload = this.workloadOf.get(k.instance);
    if (workload === undefined) return;
    const instances = this.byWorkload.get(workload)!;
    const ports = instances.get(k.instance)!;
    const node = ports.get(k.portName)?.node;
    ports.delete(k.portName);
    if (ports.size > 0) return;
    instances.delete(k.instance);
    if (instances.size === 0) this.byWorkload.delete(workload);
    this.workloadOf.delete(k.instance);
    if (node === undefined) return;
    const ids = this.onNode.get(node)!;
    ids.delete(k.instance);
    if (ids.size === 0) this.onNode.delete(node);
  }
}
