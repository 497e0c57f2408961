/**
 * The single writer: the one task that mutates control-plane state.
 *
 * Commands queue up; each turn drains the queue and hands it to the core's runTurn (decide
 * every command, reconcile once if anything changed: a burst of applies costs one pass, not
 * one each; under load passes are paced, see PACING), commits the turn's events and rows in
 * ONE store transaction, and only then answers the callers and hands the effects to the
 * agent gateway. SQLite's commit is done when it returns; PostgreSQL's takes round trips, during
 * which turns go on being decided (each on the state the turns before it left: one task still
 * changes it) and wait: once the commit under way is done, every turn decided meanwhile commits
 * in ONE transaction, so the log keeps the order of the turns and the writer never waits for
 * the database (a group commit). Readers may see a turn's state before it is committed; no
 * caller has been answered yet.
 *
 * A commit that fails (a full disk, a read-only file) leaves memory as the store is: the state
 * is reloaded from it, the callers of its turns get UNAVAILABLE with the reason, so do those of
 * the turns decided behind it (their changes went with the reload), and every command until a
 * probe write succeeds again. Agents are disconnected meanwhile (their
 * hellos cannot be recorded); recovery records ListeningStarted, so they get the same grace
 * to come back as after a restart.
 */
import { status } from "@grpc/grpc-js";
import type { Command } from "../../core/decide/commands.js";
import type { Decision } from "../../core/decide/decision.js";
import type { Effect } from "../../core/model/effects.js";
import type { Logger } from "../../shell/logger.js";
import type { ClusterState, ClusterView } from "../../core/model/cluster-state.js";
import { isVolatile } from "../../core/events/event-facts.js";
import type { ListeningCause } from "../../core/events/cluster-events.js";
import { nextWakeup, type Plan, type Policy, summarize } from "../../core/reconcile/reconcile.js";
import { runTurn, type TurnResult } from "../../core/reconcile/turn.js";
import { QuietWorkloads } from "../../core/reconcile/quiet.js";
import type { Metrics } from "../http/metrics.js";
import type { StoredEvent } from "../store/rows.js";
import type { Store } from "../store/store.js";

/**
 * What handlers need of the writer: its view to read, `submit` for changes. A standby offers the
 * same over its follower's state, refusing every change with the leader's address (server.ts).
 */
export type CommandPort = Pick<Writer, "view" | "submit">;

/** A command the writer cannot take now; the reason is for the caller (gRPC UNAVAILABLE). */
export class WriterUnavailable extends Error {
  readonly code = status.UNAVAILABLE;
  get details(): string {
    return this.message;
  }
}

interface Pending {
  command: Command;
  resolve: (d: Decision) => void;
  reject: (e: unknown) => void;
}

/** A turn decided and not yet committed: its callers and what the core decided for them. */
interface Decided {
  batch: Pending[];
  result: TurnResult;
}

export interface WriterOptions {
  store: Store;
  policy: Policy;
  /** Interval of the periodic reconcile pass. */
  tickMs: number;
  log: Logger;
  /** Carries effects out; called after the turn that produced them committed, before `committed`. */
  dispatch: (effects: Effect[]) => void;
  /** Hears every committed, logged event (with its sequence number), in order. */
  committed?: (events: StoredEvent[]) => void;
  /** The store stopped taking writes (memory was reset to it); agents should be disconnected. */
  storeFailed?: (reason: string) => void;
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
  /** Only this class's turn changes it; everyone else reads `view`. */
  private readonly state: ClusterState;
  private queue: Pending[] = [];
  /** Workloads passes may leave out until an event touches them (core/reconcile/quiet.ts). */
  private readonly quiet = new QuietWorkloads();
  /** A turn is due or under way; `again` asks for another once it ends. */
  private scheduled = false;
  private again = false;
  /** The turn under way, if one is: stopping waits for it. */
  private current: Promise<void> | undefined;
  /** Turns decided while a commit was under way: they commit together once it is done. */
  private decided: Decided[] = [];
  /** The commits under way (commitDecided), until no decided turn is left: false if the store refused one. */
  private settling: Promise<boolean> | undefined;
  /** Memory may hold a failed turn's changes: it is reloaded before changes are taken again. */
  private reloadOwed = false;
  /** A pass is owed regardless of pacing: the periodic tick, a wakeup, the first turn. */
  private reconcileDue = true;
  /** Changes were committed without a pass (pacing deferred it). */
  private changesPending = false;
  /** Passes triggered by changes wait until then (performance.now() ms); see PACING. */
  private reconcileNotBefore = 0;
  private pacingTimer: ReturnType<typeof setTimeout> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  /** Why the store cannot write, while it cannot. */
  private storeProblem: string | undefined;
  private maintenance: ReturnType<typeof setInterval> | undefined;
  private maintenanceDue = false;
  /** The last reconcile pass, for the holds whose expiry should wake us. */
  private lastPlan: Plan | undefined;
  private wakeup: { at: number; timer: ReturnType<typeof setTimeout> } | undefined;
  private readonly now: () => number;

  private constructor(
    private readonly opts: WriterOptions,
    state: ClusterState,
  ) {
    this.now = opts.now ?? Date.now;
    this.state = state;
  }

  /**
   * A writer starting from what the store holds, or from `followed`: the state a standby that
   * took the lease followed from the log, caught up with the last commit and normalized as a
   * restored one (no agent stream survives).
   */
  static async open(opts: WriterOptions, followed?: ClusterState): Promise<Writer> {
    return new Writer(opts, followed ?? (await opts.store.load()));
  }

  /**
   * Starts taking turns, once whatever carries effects out is wired: the first turn records
   * that the control plane listens from now, then reconciles.
   */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      this.reconcileDue = true;
      this.schedule();
    }, this.opts.tickMs);
    this.maintenance = setInterval(() => {
      this.maintenanceDue = true;
      this.schedule();
    }, this.opts.maintenanceMs ?? 60_000);
    this.startListening("start");
  }

  /** The state for readers (RPC handlers, metrics): read-only by type. */
  get view(): ClusterView {
    return this.state;
  }

  /** Why writes are refused now (the store cannot write), or undefined. */
  unavailable(): string | undefined {
    return this.storeProblem;
  }

  private startListening(cause: ListeningCause): void {
    this.submit({ type: "StartListening", cause }).catch((err: Error) => this.opts.log.warn("could not record listening start", { error: err.message }));
  }

  /** Queues a command; resolves with the core's decision once its turn is committed. */
  submit(command: Command): Promise<Decision> {
    if (this.stopped) return Promise.reject(new WriterUnavailable("control plane is shutting down"));
    if (this.storeProblem !== undefined) return Promise.reject(new WriterUnavailable(`control plane cannot record changes: ${this.storeProblem}`));
    return new Promise((resolve, reject) => {
      this.queue.push({ command, resolve, reject });
      this.schedule();
    });
  }

  /** Reconciles again when the core says something will be due (a node going silent, a hold expiring). */
  private armWakeup(): void {
    const at = nextWakeup(this.state, this.opts.policy, this.lastPlan, this.quiet.awake);
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

  /** Stops taking turns; queued commands are refused. Resolves once a turn under way has ended, and the last commit. */
  stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.maintenance);
    if (this.wakeup) clearTimeout(this.wakeup.timer);
    clearTimeout(this.pacingTimer);
    for (const item of this.queue) item.reject(new WriterUnavailable("control plane is shutting down"));
    this.queue = [];
    return this.drain();
  }

  /** The turn under way, then the commit it may have started (no turn starts once stopped). */
  private async drain(): Promise<void> {
    await this.current?.catch(() => undefined);
    await this.settling;
  }

  /** The store refused a write: memory goes back to what it holds; commands are refused until a probe succeeds. */
  private async failStore(err: unknown): Promise<void> {
    this.storeProblem = err instanceof Error ? err.message : String(err);
    this.opts.log.error("store cannot write; refusing changes until it can", { error: this.storeProblem, database: this.opts.store.location });
    this.lastPlan = undefined;
    this.changesPending = false;
    for (const item of this.queue.splice(0)) item.reject(new WriterUnavailable(`control plane cannot record changes: ${this.storeProblem}`));
    this.opts.storeFailed?.(this.storeProblem);
    this.reloadOwed = true;
    await this.reload().catch(() => undefined);
  }

  /** Memory goes back to what the store holds (a store that cannot be read keeps it owed). */
  private async reload(): Promise<void> {
    Object.assign(this.state, await this.opts.store.load());
    this.quiet.forget();
    this.reloadOwed = false;
  }

  /** While the store cannot write, each tick tries a small write; when it works, changes are taken again. */
  private async probeStore(): Promise<void> {
    if (!this.reconcileDue) return;
    this.reconcileDue = false;
    try {
      await this.opts.store.probe(this.now());
      if (this.reloadOwed) await this.reload();
    } catch (err) {
      this.storeProblem = err instanceof Error ? err.message : String(err);
      return;
    }
    this.opts.log.warn("store writes again; taking changes", { was: this.storeProblem });
    this.storeProblem = undefined;
    this.reconcileDue = true;
    this.startListening("store-recovered");
  }

  private schedule(): void {
    if (this.stopped || this.timer === undefined) return;
    if (this.scheduled) {
      this.again = true;
      return;
    }
    this.scheduled = true;
    setImmediate(() => void this.takeTurn());
  }

  /** One turn, then another if something asked for one meanwhile. */
  private async takeTurn(): Promise<void> {
    this.again = false;
    this.current = this.turn();
    try {
      await this.current;
    } finally {
      this.current = undefined;
      this.scheduled = false;
    }
    if (this.again || this.queue.length > 0 || this.maintenanceDue) this.schedule();
  }

  private async turn(): Promise<void> {
    if (this.stopped) return;
    if (this.storeProblem !== undefined) {
      // The failed commit's reset of memory ends first; what follows the probe commits anew.
      await this.settling;
      return this.probeStore();
    }
    const batch = this.queue;
    this.queue = [];
    const started = performance.now();
    const paced = started < this.reconcileNotBefore;
    const due = this.reconcileDue || (this.changesPending && !paced);
    this.reconcileDue = false;
    const result = runTurn(this.state, batch.map((b) => b.command), { now: this.now(), policy: this.opts.policy, reconcile: due, paced, quiet: this.quiet });
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
    // Earlier turns may still be committing (PostgreSQL: a round trip): this one was decided on
    // their changes, so it commits after them, and not at all if they fail.
    this.decided.push({ batch, result });
    // Not awaited: the next turns are decided while this one commits.
    this.settling ??= this.commitDecided();
  }

  /** Commits the decided turns, those decided meanwhile in one group after each commit, until none is left; false if the store refused a group. */
  private async commitDecided(): Promise<boolean> {
    try {
      for (let group = this.decided.splice(0); group.length > 0; group = this.decided.splice(0)) if (!(await this.settle(group))) return false;
      return true;
    } finally {
      this.settling = undefined;
    }
  }

  /**
   * Commits decided turns in one transaction, then answers their callers and carries their
   * effects out, in the turns' order; false if the store refused it (memory was reset to what
   * it holds). The store reads the state at the call (Store.commit): the state the last of them
   * left, before the next turn changes it.
   */
  private async settle(group: Decided[]): Promise<boolean> {
    const events = group.flatMap((d) => d.result.events);
    let stored: StoredEvent[] = [];
    try {
      if (events.length > 0) {
        const t0 = performance.now();
        stored = await this.opts.store.commit(events, this.state);
        this.opts.metrics?.observeCommit((performance.now() - t0) / 1000);
        this.opts.log.debug("store commit", { turns: group.length, events: events.length, logged: stored.length, ms: +(performance.now() - t0).toFixed(2) });
      }
    } catch (err) {
      // Memory holds changes the store does not: go back to what it holds, and take nothing
      // until it can write again. Nothing of these turns happened, nor of those decided behind
      // them (memory goes back to none of their changes): no answer, no effect.
      const refusal = new WriterUnavailable(`control plane cannot record changes: ${err instanceof Error ? err.message : String(err)}`);
      for (const { batch } of [...group, ...this.decided.splice(0)]) for (const item of batch) item.reject(refusal);
      await this.failStore(err);
      return false;
    }
    for (const { batch, result } of group) batch.forEach((item, i) => item.resolve(result.decisions[i]!));
    // The agents' commands before what watchers hear: a copy starting is what an apply waits for.
    const effects = group.flatMap((d) => d.result.effects);
    if (effects.length > 0) this.opts.dispatch(effects);
    if (stored.length > 0) this.opts.committed?.(stored);
    const planned = group.findLast((d) => d.result.plan !== undefined)?.result.plan;
    if (planned) this.lastPlan = planned;
    // The next wakeup comes earlier only through a pass (its holds, health changes) or a node
    // connecting; heartbeats and reports only move it later, and an armed timer that fires
    // early merely runs a pass that finds nothing. nextWakeup visits every node: not per turn.
    if (planned || !this.wakeup || events.some((e) => e.type === "NodeConnected")) this.armWakeup();
    if (this.maintenanceDue) {
      const failed = await this.maintain();
      if (failed !== undefined) {
        await this.failStore(failed.err);
        return false;
      }
    }
    return true;
  }

  /** Trims the store between commits (the writer owns it); what the store failed with, if it did. */
  private async maintain(): Promise<{ err: unknown } | undefined> {
    this.maintenanceDue = false;
    let stats: Awaited<ReturnType<Store["maintain"]>>;
    try {
      stats = await this.opts.store.maintain(this.now());
    } catch (err) {
      return { err };
    }
    if (stats.warning) this.opts.log.warn(stats.warning, stats);
    else this.opts.log.debug("store maintenance", stats);
    // Deleting is behind (its time budget ran out): go on after the next turn.
    if (stats.more) this.maintenanceDue = true;
    return undefined;
  }
}
