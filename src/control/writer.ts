/**
 * The single writer: the one task that mutates control-plane state.
 *
 * Commands queue up; each turn drains the queue and hands it to the core's runTurn (decide
 * every command, reconcile once if anything changed: a burst of applies costs one pass, not
 * one each; under load passes are paced, see PACING), commits the turn's events and rows in
 * ONE SQLite transaction, and only then answers the callers and hands the effects to the
 * agent gateway.
 */
import type { Command, Decision } from "../core/decide.js";
import type { Effect } from "../core/effects.js";
import type { Logger } from "../core/logger.js";
import { type ClusterState, isVolatile } from "../core/model.js";
import { nextWakeup, type Plan, type Policy, summarize } from "../core/reconcile.js";
import { runTurn } from "../core/turn.js";
import type { Metrics } from "./metrics.js";
import type { Store, StoredEvent } from "./store/store.js";

interface Pending {
  command: Command;
  resolve: (d: Decision) => void;
  reject: (e: unknown) => void;
}

export interface WriterOptions {
  store: Store;
  policy: Policy;
  /** Interval of the periodic reconcile pass. */
  tickMs: number;
  log: Logger;
  /** Carries effects out; called after the turn that produced them committed. */
  dispatch: (effects: Effect[]) => void;
  /** Hears every committed, logged event (with its sequence number), in order. */
  committed?: (events: StoredEvent[]) => void;
  metrics?: Metrics;
  /** Paced passes wait this many times the last reconciling turn's duration (default PACING). */
  pacing?: number;
  /** How often the store is trimmed and checkpointed (Store.maintain). */
  maintenanceMs?: number;
  now?: () => number;
}

/**
 * A pass triggered by changes waits PACING times the last turn's duration after it: under a
 * burst, reconciling takes at most about half of the writer's time and the rest goes to
 * committing and answering; when idle, a change is reconciled in the same turn. A 10,000-
 * workload pass takes ~15 ms, so no change waits longer than that for its pass.
 */
const PACING = 1;

export class Writer {
  readonly state: ClusterState;
  private queue: Pending[] = [];
  private scheduled = false;
  /** A pass is owed regardless of pacing: the periodic tick, a wakeup, the first turn. */
  private reconcileDue = true;
  /** Changes were committed without a pass (pacing deferred it). */
  private changesPending = false;
  /** Passes triggered by changes wait until then (performance.now() ms); see PACING. */
  private reconcileNotBefore = 0;
  private pacingTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly timer: ReturnType<typeof setInterval>;
  private stopped = false;
  private readonly maintenance: ReturnType<typeof setInterval>;
  private maintenanceDue = false;
  /** The last reconcile pass, for the holds whose expiry should wake us. */
  private lastPlan: Plan | undefined;
  private wakeup: { at: number; timer: ReturnType<typeof setTimeout> } | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: WriterOptions) {
    this.now = opts.now ?? Date.now;
    this.state = opts.store.load(this.now());
    this.timer = setInterval(() => {
      this.reconcileDue = true;
      this.schedule();
    }, opts.tickMs);
    this.maintenance = setInterval(() => {
      this.maintenanceDue = true;
      this.schedule();
    }, opts.maintenanceMs ?? 60_000);
    this.schedule();
  }

  /** Queues a command; resolves with the core's decision once its turn is committed. */
  submit(command: Command): Promise<Decision> {
    if (this.stopped) return Promise.reject(new Error("control plane is shutting down"));
    return new Promise((resolve, reject) => {
      this.queue.push({ command, resolve, reject });
      this.schedule();
    });
  }

  /** Reconciles again when the core says something will be due (a node going silent, a hold expiring). */
  private armWakeup(): void {
    const at = nextWakeup(this.state, this.opts.policy, this.lastPlan);
    if (at === undefined || (this.wakeup && this.wakeup.at <= at)) return;
    if (this.wakeup) clearTimeout(this.wakeup.timer);
    const timer = setTimeout(() => {
      this.wakeup = undefined;
      this.reconcileDue = true;
      this.schedule();
    }, Math.max(0, at - this.now()));
    this.wakeup = { at, timer };
  }

  /** Takes a turn when paced changes may be reconciled. */
  private armPacing(): void {
    if (this.pacingTimer) return;
    this.pacingTimer = setTimeout(
      () => {
        this.pacingTimer = undefined;
        this.schedule();
      },
      Math.max(1, this.reconcileNotBefore - performance.now()),
    );
  }

  /** Stops taking turns; queued commands are refused. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.maintenance);
    if (this.wakeup) clearTimeout(this.wakeup.timer);
    clearTimeout(this.pacingTimer);
    for (const item of this.queue) item.reject(new Error("control plane is shutting down"));
    this.queue = [];
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.turn();
    });
  }

  private turn(): void {
    if (this.stopped) return;
    const batch = this.queue;
    this.queue = [];
    const started = performance.now();
    const paced = started < this.reconcileNotBefore;
    const due = this.reconcileDue || (this.changesPending && !paced);
    this.reconcileDue = false;
    const result = runTurn(
      this.state,
      batch.map((b) => b.command),
      this.now(),
      this.opts.policy,
      due,
      !paced,
    );
    if (result.plan) {
      this.changesPending = false;
      const ended = performance.now();
      this.reconcileNotBefore = ended + (ended - started) * (this.opts.pacing ?? PACING);
    } else if (result.events.some((e) => !isVolatile(e))) {
      this.changesPending = true;
    }
    // Also when a timer fired a hair early and this turn was still paced.
    if (this.changesPending) this.armPacing();
    if (result.plan) {
      const p = result.plan;
      this.opts.metrics?.observeReconcile((performance.now() - started) / 1000, p.place.length + p.schedule.length);
      this.opts.log.debug("reconcile", {
        plan: summarize(p),
        nodes: this.state.nodes.size,
        placed: p.place.length + p.schedule.length,
        offline: p.health.filter((h) => h.to === "offline").length,
        ms: +(performance.now() - started).toFixed(2),
      });
    }
    let stored: StoredEvent[] = [];
    try {
      if (result.events.length > 0) {
        const t0 = performance.now();
        stored = this.opts.store.commit(result.events, this.state);
        this.opts.metrics?.observeCommit((performance.now() - t0) / 1000);
        this.opts.log.debug("store commit", { events: result.events.length, logged: stored.length, ms: +(performance.now() - t0).toFixed(2) });
      }
    } catch (err) {
      // Memory now holds changes the disk does not: continuing would lie to callers.
      this.opts.log.error("store commit failed; stopping", { error: String(err) });
      for (const item of batch) item.reject(err);
      this.stop();
      throw err;
    }
    batch.forEach((item, i) => item.resolve(result.decisions[i]!));
    if (stored.length > 0) this.opts.committed?.(stored);
    if (result.plan) this.lastPlan = result.plan;
    // The next wakeup comes earlier only through a pass (its holds, health changes) or a node
    // connecting; heartbeats and reports only move it later, and an armed timer that fires
    // early merely runs a pass that finds nothing. nextWakeup visits every node: not per turn.
    if (result.plan || !this.wakeup || result.events.some((e) => e.type === "NodeConnected")) this.armWakeup();
    if (this.maintenanceDue) {
      // The writer owns the store: maintenance runs between turns, never inside one.
      this.maintenanceDue = false;
      const stats = this.opts.store.maintain(this.now());
      if (stats.checkpointBlocked) this.opts.log.warn("WAL checkpoint blocked by another connection; the WAL grows until it is released", stats);
      else this.opts.log.debug("store maintenance", stats);
      // Deleting is behind (its time budget ran out): go on after the next turn.
      if (stats.more) this.maintenanceDue = true;
    }
    if (result.effects.length > 0) this.opts.dispatch(result.effects);
    if (this.queue.length > 0 || this.maintenanceDue) this.schedule();
  }
}
