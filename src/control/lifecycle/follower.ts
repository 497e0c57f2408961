/**
 * A hot standby's state (issue 20): it follows the leader's committed events on PostgreSQL
 * and folds them through the core's `evolve` into a state of its own, so that it answers
 * reads and, when it takes the lease, leads from memory instead of loading. Imperative shell.
 *
 * The event log is the replication stream. It starts from a snapshot (the rows and the
 * newest sequence number committed with them, one transaction), then reads the events after
 * the sequence number it applied, in pages, whenever the leader's commit NOTIFY says there
 * are more, when the LISTEN is (re)acknowledged (notifications may have been missed while
 * disconnected), and on a fallback timer. Events retention dropped before they were applied
 * mean a new snapshot. One catch-up at a time; a request during one runs another after it.
 */
import { dropAgentStreams } from "../../core/events/stored-state.js";
import { evolve } from "../../core/events/evolve.js";
import { type ClusterState, type ClusterView, emptyState } from "../../core/model/cluster-state.js";
import { secretId } from "../../core/model/secrets.js";
import type { Logger } from "../../shell/logger.js";
import type { StoredEvent } from "../store/rows.js";
import type { SharedDatabase } from "../store/store.js";

/** Events read per page while catching up. */
const PAGE = 1_000;

export interface FollowerOptions {
  store: SharedDatabase;
  log: Logger;
  /** How often it catches up without being told (a missed NOTIFY costs at most this). */
  pollMs: number;
  /** Hears the events folded in, in order, after the state has them (the hubs). */
  applied?: (events: StoredEvent[]) => void;
  /** A snapshot replaced the state whole, as of `seq` (hubs recompute what they keep of it). */
  loaded?: (seq: number) => void;
  /** Hears the sequence number applied, and how many committed events it has heard of beyond it, as either changes (metrics). */
  progressed?: (seq: number, behind: number) => void;
}

export class Follower {
  /** One object for the life of the follower: readers keep it; a new snapshot is copied into it. */
  private readonly state: ClusterState = emptyState();
  private seq = 0;
  /** The newest sequence number a commit's NOTIFY announced. */
  private heard = 0;
  private loaded = false;
  private stopped = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  /** The last failure, logged once until a catch-up succeeds. */
  private failing: string | undefined;

  constructor(private readonly opts: FollowerOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.catchUp(), this.opts.pollMs);
    void this.catchUp();
  }

  /** The followed state, read-only by type; empty until `ready`. */
  get view(): ClusterView {
    return this.state;
  }

  /** Whether a snapshot was loaded: reads can be answered. */
  get ready(): boolean {
    return this.loaded;
  }

  /** The sequence number of the newest event folded in (or of the snapshot). */
  get appliedSeq(): number {
    return this.seq;
  }

  /** Folds in every event committed so far; resolves when done (a failure is logged, and retried at the next call). */
  catchUp(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.step().then(
          () => {
            if (this.failing !== undefined) this.opts.log.info("following the leader's commits again", { seq: this.seq });
            this.failing = undefined;
          },
          (err: Error) => {
            if (this.failing !== err.message) this.opts.log.warn("cannot follow the leader's commits; retrying", { error: err.message, seq: this.seq });
            this.failing = err.message;
          },
        );
      } while (this.again && !this.stopped);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  /** One catch-up; `listen`: subscribe first if not yet (not when handing over). */
  private async step(listen = true): Promise<void> {
    const { store } = this.opts;
    // Listening first: a commit after the snapshot is then either in what is read next or notified.
    if (listen) this.unlisten ??= await store.followCommits(
      (seq) => {
        this.heard = Math.max(this.heard, seq);
        if (seq <= this.seq) return;
        this.opts.progressed?.(this.seq, this.heard - this.seq);
        void this.catchUp();
      },
      () => void this.catchUp(),
    );
    if (!this.loaded) return this.load("started");
    for (;;) {
      const page = await store.history.eventsAfter(this.seq, PAGE);
      // A gap may be numbers never used (a commit that failed); below the oldest kept, events were dropped unseen.
      if (page.length > 0 && page[0]!.seq > this.seq + 1 && (await store.history.oldestSeq()) > this.seq + 1) return this.load("retention dropped events it had not applied");
      if (page.length > 0) this.apply(page);
      if (page.length < PAGE) break;
    }
    this.opts.progressed?.(this.seq, Math.max(0, this.heard - this.seq));
  }

  private async load(why: string): Promise<void> {
    const { state, seq } = await this.opts.store.loadWithSeq();
    Object.assign(this.state, state);
    this.seq = seq;
    this.loaded = true;
    this.opts.log.info("following the leader's commits from a snapshot", { seq, why });
    this.opts.loaded?.(seq);
    this.opts.progressed?.(seq, Math.max(0, this.heard - seq));
  }

  private apply(page: StoredEvent[]): void {
    for (const stored of page) {
      try {
        evolve(this.state, stored.event);
      } catch (err) {
        // The log disagrees with memory: start over from what the database holds.
        this.loaded = false;
        this.again = true;
        throw new Error(`event ${stored.seq} does not apply (${(err as Error).message}); loading a snapshot`);
      }
      this.seq = stored.seq;
    }
    this.opts.applied?.(page);
  }

  /**
   * Stops following and hands the state over to a writer, caught up with every commit (after
   * the lease was taken, the fence lets no earlier epoch commit again) and normalized as a
   * new leader starts (no agent stream survives). Undefined when no snapshot was ever loaded.
   */
  async handOver(): Promise<{ state: ClusterState; seq: number } | undefined> {
    await this.close();
    if (!this.loaded) return undefined;
    try {
      await this.step(false);
      // The log keeps no secret's value: a version committed after the snapshot has none here.
      // The lease is taken, so the rows read now are those of the last commit folded.
      this.state.secrets = new Map((await this.opts.store.secrets()).map((r) => [secretId(r.kind, r.name), r]));
    } catch (err) {
      this.opts.log.warn("could not catch up with the last commits; loading instead", { error: (err as Error).message, seq: this.seq });
      return undefined;
    }
    return { state: dropAgentStreams(this.state), seq: this.seq };
  }

  /** Stops following. */
  async close(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    await unlisten?.().catch(() => undefined);
  }
}
