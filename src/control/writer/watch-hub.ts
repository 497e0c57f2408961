/**
 * Fans committed events out to Watch streams. A watcher first reads what the log already
 * holds after its sequence number, then follows live commits. Reading the log takes time
 * (PostgreSQL's is a round trip): commits published meanwhile are held and delivered after
 * it, those the read already returned skipped by sequence number, so none is skipped or
 * repeated.
 */
import type { StoredEvent } from "../store/rows.js";
import type { EventHistory } from "../store/store.js";

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
  /** Commits published while the log is read, until it has been. */
  held: StoredEvent[] | undefined;
  ended: boolean;
  failed?: (reason: string) => void;
}

export class WatchHub {
  private readonly subs = new Set<Subscription>();

  constructor(private readonly history: EventHistory) {}

  /**
   * Starts a watch after `afterSeq`; returns the function that ends it. A log that cannot be
   * read ends the watcher with the reason (`failed`).
   */
  watch(watcher: Watcher, afterSeq: number, failed?: (reason: string) => void): () => void {
    const sub: Subscription = { watcher, lastSeq: afterSeq, held: [], ended: false, failed };
    const end = () => {
      sub.ended = true;
      this.subs.delete(sub);
    };
    this.subs.add(sub);
    void this.catchUp(sub).catch((err: Error) => {
      end();
      failed?.(`cannot read the event log: ${err.message}`);
    });
    return end;
  }

  /**
   * Ends every watch with `reason`: the state these commits came from stops being served here
   * (a term ends, a standby starts leading). Watchers resume by sequence number.
   */
  close(reason: string): void {
    for (const sub of this.subs) {
      sub.ended = true;
      sub.failed?.(reason);
    }
    this.subs.clear();
  }

  private async catchUp(sub: Subscription): Promise<void> {
    for (;;) {
      const page = await this.history.eventsAfter(sub.lastSeq, PAGE, sub.watcher.workload);
      if (sub.ended) return;
      for (const e of page) if (!this.deliver(sub, e)) return;
      if (page.length < PAGE) break;
    }
    const held = sub.held!;
    sub.held = undefined;
    this.send(sub, held);
  }

  /** Called by the writer after each commit. */
  publish(events: StoredEvent[]): void {
    for (const sub of this.subs) {
      if (sub.held) sub.held.push(...events);
      else this.send(sub, events);
    }
  }

  private send(sub: Subscription, events: StoredEvent[]): void {
    for (const e of events) {
      if (e.seq <= sub.lastSeq || (sub.watcher.workload && e.workload !== sub.watcher.workload)) continue;
      if (!this.deliver(sub, e)) break;
    }
  }

  private deliver(sub: Subscription, e: StoredEvent): boolean {
    sub.lastSeq = e.seq;
    if (sub.watcher.send(e)) return true;
    this.subs.delete(sub);
    return false;
  }
}
