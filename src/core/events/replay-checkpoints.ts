/**
 * States of the event log kept along the way, so that rebuilding the fleet as it was at an
 * earlier event (the web page's time slider) folds from the nearest kept state before it rather
 * than from the log's first event. PURE: the shell reads the log and hands the events in.
 *
 * A fold keeps the state at each multiple of `every` it passes, at most `max` of them (each is
 * a fork of a whole fleet): when one more would pass the bound, the spacing doubles and the
 * states off it go, so what is kept stays evenly spread over the log however long it grows.
 * The log's past never changes, so nothing kept goes stale.
 */
import type { ClusterEvent } from "./cluster-events.js";
import { evolve } from "./evolve.js";
import { type ClusterState, emptyState, forkState } from "../model/cluster-state.js";

/** A fold in progress: `state` is the log folded through event `seq`. */
export interface Replaying {
  readonly state: ClusterState;
  readonly seq: number;
  /** Folds the next event of the log (its sequence number after `seq`). */
  step(seq: number, event: ClusterEvent): void;
}

export class ReplayCheckpoints {
  /** Kept states by the sequence number they were folded through, in ascending order. */
  private kept: Array<{ seq: number; state: ClusterState }> = [];

  constructor(
    private every: number,
    private readonly max: number,
  ) {
    if (!(every >= 1 && max >= 2)) throw new Error("ReplayCheckpoints: every ≥ 1 and max ≥ 2");
  }

  /** Sequence numbers of the states kept, ascending (for tests and logs). */
  get seqs(): number[] {
    return this.kept.map((k) => k.seq);
  }

  /** A fold from the newest kept state at or before `seq` (or from nothing), on a fork of it: the kept one stays as it was. */
  from(seq: number): Replaying {
    let base: { seq: number; state: ClusterState } | undefined;
    for (const k of this.kept) if (k.seq <= seq) base = k;
    const state = base ? forkState(base.state) : emptyState();
    let at = base?.seq ?? 0;
    const self = this;
    return {
      state,
      get seq() {
        return at;
      },
      step(next, event) {
        evolve(state, event);
        at = next;
        if (next % self.every === 0 && !self.kept.some((k) => k.seq === next)) self.keep(next, forkState(state));
      },
    };
  }

  private keep(seq: number, state: ClusterState): void {
    this.kept.push({ seq, state });
    this.kept.sort((a, b) => a.seq - b.seq);
    while (this.kept.length > this.max) {
      this.every *= 2;
      this.kept = this.kept.filter((k) => k.seq % this.every === 0);
    }
  }
}
