/**
 * Fans endpoint changes out to WatchEndpoints streams and to the agents (their DNS). After each
 * commit the writer hands it the logged events; its one EndpointTable recomputes, with the
 * core's endpointsOf, the endpoints of the workloads those events touch, and watchers and
 * agents get what differs from what it last sent. So a
 * change reaches watchers in the same writer turn that committed it. It runs between turns,
 * like every reader of the view, so a new watcher's snapshot and the changes after it line up.
 */
import type { ClusterView } from "../../core/model/cluster-state.js";
import { diffOf, type EndpointChanges, EndpointTable, type EndpointsDiff, hasChanges } from "../../core/views/endpoint-table.js";
import { type Endpoint, endpointsOf } from "../../core/views/endpoints.js";
import type { StoredEvent } from "../store/rows.js";

export type EndpointChangeKind = "added" | "changed" | "removed";

export interface EndpointWatcher {
  workload?: string;
  /** Delivers the snapshot (ADDED each, then SYNCED); false when the watcher must be dropped. */
  snapshot(endpoints: Endpoint[], seq: number): boolean;
  /** Delivers one change; false when the watcher must be dropped (too slow, gone). */
  change(kind: EndpointChangeKind, endpoint: Endpoint, seq: number): boolean;
  /** The hub closed: no more changes will come from it. */
  closed(reason: string): void;
}

export class EndpointsHub {
  private readonly watchers = new Set<EndpointWatcher>();
  private readonly agents = new Set<(diff: EndpointsDiff) => void>();
  /** What watchers and agents were last sent: the one table both follow. */
  private readonly table = new EndpointTable();

  constructor(
    private readonly view: ClusterView,
    /** The sequence number of the newest logged event. */
    private readonly newestSeq: () => number,
  ) {
    this.table.refresh(view, view.workloads.keys());
  }

  /** Starts a watch with a snapshot as of now; returns the function that ends it. */
  watch(watcher: EndpointWatcher): () => void {
    const end = () => this.watchers.delete(watcher);
    if (!watcher.snapshot(endpointsOf(this.view, watcher.workload), this.newestSeq())) return end;
    this.watchers.add(watcher);
    return end;
  }

  /** The whole table, for an agent that just said hello; `onChange` hears every later difference. */
  snapshot(): EndpointsDiff {
    return this.table.snapshot();
  }

  /** Calls `listener` with each commit's difference (the gateway forwards it to agents). */
  subscribe(listener: (diff: EndpointsDiff) => void): void {
    this.agents.add(listener);
  }

  /**
   * Ends every watch with `reason`: the state it follows stops being served here (a term ends,
   * a standby starts leading). Watchers watch again for a fresh snapshot.
   */
  close(reason: string): void {
    for (const w of this.watchers) w.closed(reason);
    this.watchers.clear();
  }

  /** Called by the writer after each commit: what changed goes to watchers and agents. */
  publish(events: StoredEvent[]): void {
    const changes = this.table.refresh(
      this.view,
      this.table.touchedBy(
        events.map((e) => e.event),
        this.view,
      ),
    );
    this.send(changes, events[events.length - 1]!.seq);
  }

  /** The view was replaced whole (a standby's new snapshot, as of `seq`): every workload is recomputed. */
  resync(seq: number): void {
    const names = new Set([...this.view.workloads.keys(), ...this.table.list().map((e) => e.workload)]);
    this.send(this.table.refresh(this.view, names), seq);
  }

  private send(changes: EndpointChanges, seq: number): void {
    if (!hasChanges(changes)) return;
    // Added and changed before removed: a load balancer never briefly sees none.
    const ordered: Array<[EndpointChangeKind, Endpoint]> = [
      ...changes.added.map((e): [EndpointChangeKind, Endpoint] => ["added", e]),
      ...changes.changed.map((e): [EndpointChangeKind, Endpoint] => ["changed", e]),
      ...changes.removed.map((e): [EndpointChangeKind, Endpoint] => ["removed", e]),
    ];
    for (const w of this.watchers) {
      for (const [kind, e] of ordered) {
        if (w.workload !== undefined && w.workload !== e.workload) continue;
        if (!w.change(kind, e, seq)) {
          this.watchers.delete(w);
          break;
        }
      }
    }
    const diff = diffOf(changes);
    for (const listener of this.agents) listener(diff);
  }
}
