/**
 * Fans the fleet out to the web page's Server-Sent Events streams: each stream starts with a
 * snapshot, then the changes of the commits, those of one flush window (FLUSH_MS) merged into
 * one message (a page takes a burst of changes as one message much faster than as many; a
 * change still reaches it well within a second). After each commit the writer hands it the logged
 * events; the change of the records they touch (the log's index columns, from the core's
 * event-facts table) is computed ONCE, the nodes whose use they moved found by one
 * HeldNodes, encoded once, and the same bytes go to every stream. Like every reader of the
 * view it runs between turns, so a new stream's snapshot and the changes after it line up.
 */
import type { ClusterView } from "../../core/model/cluster-state.js";
import { type FleetChange, fleetChange, fleetSnapshot, HeldNodes, mergeChanges } from "../../core/views/fleet-view.js";
import { type SseStream, sseFrame } from "../http/sse.js";
import type { StoredEvent } from "../store/rows.js";

/** How long the hub gathers commits' changes before sending them as one message. */
export const FLUSH_MS = 50;

export class FleetHub {
  private readonly streams = new Set<SseStream>();
  /**
   * Where each copy was as of the last commit, while any stream follows: built with the first
   * one's snapshot (from the same view), dropped when the last ends. Unwatched, a commit costs
   * the hub nothing; a page opening then pays one pass over the copies, as its snapshot does.
   */
  private held: HeldNodes | undefined;
  /** Changes of commits since the last flush, merged; sent when the window ends. */
  private pending: FleetChange | undefined;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly view: ClusterView,
    /** The sequence number of the newest logged event. */
    private readonly newestSeq: () => number,
  ) {}

  /** Sends the fleet as of now, then every commit's change; returns the function that ends it. */
  follow(stream: SseStream): () => void {
    const end = () => void this.streams.delete(stream);
    if (!stream.send("snapshot", fleetSnapshot(this.view, this.newestSeq()))) return end;
    this.held ??= new HeldNodes(this.view);
    this.streams.add(stream);
    return end;
  }

  /** Called by the writer after each commit. */
  publish(events: StoredEvent[]): void {
    if (this.streams.size === 0) {
      this.held = undefined;
      return;
    }
    const instances = new Set<string>();
    const workloads = new Set<string>();
    for (const e of events) {
      if (e.instance) instances.add(e.instance);
      if (e.workload) workloads.add(e.workload);
    }
    const nodes = this.held!.refresh(this.view, instances);
    for (const e of events) if (e.node) nodes.add(e.node);
    // Computed at its own commit, so each record is as that commit left it; merged for sending.
    const change = fleetChange(this.view, events.at(-1)!.seq, { workloads, instances, nodes });
    this.pending = this.pending === undefined ? change : mergeChanges(this.pending, change);
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Sends what gathered since the last flush, the same bytes to every stream. */
  private flush(): void {
    this.flushTimer = undefined;
    const change = this.pending;
    this.pending = undefined;
    if (change === undefined || this.streams.size === 0) return;
    const frame = sseFrame("change", change);
    for (const stream of this.streams) if (!stream.sendFrame(frame)) this.streams.delete(stream);
  }

  /** Stops the flush timer (the listener is closing). */
  close(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.pending = undefined;
  }
}
