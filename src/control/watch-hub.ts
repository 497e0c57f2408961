/**
 * Fans committed events out to Watch streams. A watcher first reads what the log already
 * holds after its sequence number, then follows live commits. Catching up reads the store
 * synchronously, so no commit can slip in between the two: none is skipped or repeated.
 */
import type { EventHistory } from "./store/event-history.js";
import type { StoredEvent } from "./store/rows.js";

/** Events read from the store per page while catching up. */
const PAGE = 1_000;

export interface Watcher {
  workload?: string;
  /** Delivers one event; returns false when the watcher must be dropped (too slow, gone). */
  send(e: StoredEvent): boolean;
}

interface Subscription {
  watcher: Watcher;
  lastSeq: number;
}

export class WatchHub {
  private readonly subs = new Set<Subscription>();

  constructor(private readonly history: EventHistory) {}

  /** Starts a watch after `afterSeq`; returns the function that ends it. */
  watch(watcher: Watcher, afterSeq: number): () => void {
    const sub: Subscription = { watcher, lastSeq: afterSeq };
    const end = () => this.subs.delete(sub);
    for (;;) {
      const page = this.history.eventsAfter(sub.lastSeq, PAGE, watcher.workload);
      for (const e of page) if (!this.deliver(sub, e)) return end;
      if (page.length < PAGE) break;
    }
    this.subs.add(sub);
    return end;
  }

  /** Called by the writer after each commit. */
  publish(events: StoredEvent[]): void {
    for (const sub of this.subs) {
      for (const e of events) {
        if (sub.watcher.workload && e.workload !== sub.watcher.workload) continue;
        if (!this.deliver(sub, e)) break;
      }
    }
  }

  private deliver(sub: Subscription, e: StoredEvent): boolean {
    sub.lastSeq = e.seq;
    if (sub.watcher.send(e)) return true;
    this.subs.delete(sub);
    return false;
  }
}
