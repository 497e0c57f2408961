/**
 * Fans endpoint changes out to WatchEndpoints streams. After each commit the writer hands it
 * the logged events; it recomputes, with the core's endpointsOf, the endpoints of the
 * workloads those events touch and sends watchers what differs from what it last sent. So a
 * change reaches watchers in the same writer turn that committed it. It runs between turns,
 * like every reader of the view, so a new watcher's snapshot and the changes after it line up.
 */
import type { ClusterView } from "../core/cluster-state.js";
import { type Endpoint, endpointsOf } from "../core/endpoints.js";
import type { StoredEvent } from "./store/rows.js";

export type EndpointChangeKind = "added" | "changed" | "removed";

export interface EndpointWatcher {
  workload?: string;
  /** Delivers the snapshot (ADDED each, then SYNCED); false when the watcher must be dropped. */
  snapshot(endpoints: Endpoint[], seq: number): boolean;
  /** Delivers one change; false when the watcher must be dropped (too slow, gone). */
  change(kind: EndpointChangeKind, endpoint: Endpoint, seq: number): boolean;
}

/** An endpoint is known by its copy and port name. */
const keyOf = (e: Endpoint) => `${e.instance}\u0000${e.portName}`;

function same(a: Endpoint, b: Endpoint): boolean {
  return a.node === b.node && a.address === b.address && a.hostPort === b.hostPort && a.protocol === b.protocol && a.ready === b.ready && a.name === b.name;
}

export class EndpointsHub {
  private readonly watchers = new Set<EndpointWatcher>();
  /** What watchers were last sent, by workload (only workloads that have endpoints). */
  private readonly sent = new Map<string, Map<string, Endpoint>>();

  constructor(
    private readonly view: ClusterView,
    /** The sequence number of the newest logged event. */
    private readonly newestSeq: () => number,
  ) {
    for (const e of endpointsOf(view)) {
      const held = this.sent.get(e.workload) ?? new Map<string, Endpoint>();
      this.sent.set(e.workload, held.set(keyOf(e), e));
    }
  }

  /** Starts a watch with a snapshot as of now; returns the function that ends it. */
  watch(watcher: EndpointWatcher): () => void {
    const end = () => this.watchers.delete(watcher);
    if (!watcher.snapshot(endpointsOf(this.view, watcher.workload), this.newestSeq())) return end;
    this.watchers.add(watcher);
    return end;
  }

  /** Called by the writer after each commit. */
  publish(events: StoredEvent[]): void {
    const seq = events[events.length - 1]!.seq;
    for (const workload of this.touched(events)) {
      const changes = this.diff(workload);
      if (changes.length === 0) continue;
      for (const w of this.watchers) {
        if (w.workload !== undefined && w.workload !== workload) continue;
        for (const [kind, e] of changes) {
          if (!w.change(kind, e, seq)) {
            this.watchers.delete(w);
            break;
          }
        }
      }
    }
  }

  /**
   * The workloads whose endpoints the events may change: those they name, and for an event
   * about a node alone (its address comes with its hello) every workload with a copy there.
   */
  private touched(events: StoredEvent[]): Set<string> {
    const out = new Set<string>();
    const nodes = new Set<string>();
    for (const e of events) {
      if (e.workload !== null) out.add(e.workload);
      else if (e.node !== null) nodes.add(e.node);
    }
    if (nodes.size > 0) for (const inst of this.view.instances.values()) if (inst.node !== null && nodes.has(inst.node)) out.add(inst.workload);
    return out;
  }

  /** Updates what was sent for a workload; returns the changes, added and changed before removed. */
  private diff(workload: string): [EndpointChangeKind, Endpoint][] {
    const before = this.sent.get(workload) ?? new Map<string, Endpoint>();
    const now = new Map(endpointsOf(this.view, workload).map((e) => [keyOf(e), e]));
    const changes: [EndpointChangeKind, Endpoint][] = [];
    for (const [k, e] of now) {
      const was = before.get(k);
      if (was === undefined) changes.push(["added", e]);
      else if (!same(was, e)) changes.push(["changed", e]);
    }
    for (const [k, e] of before) if (!now.has(k)) changes.push(["removed", e]);
    if (now.size > 0) this.sent.set(workload, now);
    else this.sent.delete(workload);
    return changes;
  }
}
