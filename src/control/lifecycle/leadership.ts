/**
 * Leadership among several control planes on one PostgreSQL database (issue 20): every
 * renewal interval, this control plane says it is there, then renews the lease (leading) or
 * tries to take it (standby), and folds the outcome through the core (src/core/ha/lease.ts),
 * which says when to lead and when to step down; this carries it out (the store's fence, the
 * term's start and stop). Imperative shell.
 *
 * One attempt at a time: a statement that hangs never piles up others, and the tick still
 * checks the deadline, so a leader steps down before its lease can have expired even while the
 * database does not answer. Starting and stopping terms are chained: never two at once.
 */
import type { Logger } from "../../shell/logger.js";
import { type Leadership, type LeadershipStep, type LeaseOutcome, type LeaseTiming, notLeaderMessage, onLeaseOutcome, onTick, retryAfter } from "../../core/ha/lease.js";
import type { Candidate, PostgresLease } from "../store/postgres/lease.js";
import type { SharedDatabase } from "../store/store.js";
import { describeDatabaseError } from "../store/postgres/unreachable.js";

export interface LeadershipOptions {
  lease: PostgresLease;
  store: SharedDatabase;
  me: Candidate;
  /** The newest event this control plane's state holds, recorded in the roll at each attempt (how far behind it is). */
  appliedSeq: () => number;
  timing: LeaseTiming;
  log: Logger;
  /** Starts a term (writer, gateway, services) in `epoch`; the store's writes are fenced by it already. */
  lead: (epoch: number) => Promise<void>;
  /** Ends the term: stops the writer and the gateway. */
  stepDown: () => Promise<void>;
  /** The database stopped answering: the term stays, its writes fenced off, to answer reads from memory. */
  suspend: () => Promise<void>;
}

export class LeadershipLoop {
  private leadership: Leadership = { role: "standby" };
  private attempt: Promise<void> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** A standby's attempt at the moment the lease it was refused runs out (retryAfter), when that comes before the next tick. */
  private early: ReturnType<typeof setTimeout> | undefined;
  /** Terms start and stop in order. */
  private transitions: Promise<void> = Promise.resolve();
  /** What a standby refuses calls with (changes, or all before it follows a state), as of the last attempt. */
  private refusal = notLeaderMessage(undefined, 0);
  private stopped = false;

  constructor(private readonly opts: LeadershipOptions) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), this.opts.timing.renewMs);
    this.tick();
  }

  get role(): Leadership["role"] {
    return this.leadership.role;
  }

  /** Why this control plane does not take calls: it is not the leader (naming the one that is). */
  notLeader(): string {
    return this.refusal;
  }

  /** A write failed: check the lease now rather than at the next tick (a deposed leader steps down at once). */
  verify(): void {
    this.tick();
  }

  private tick(): void {
    if (this.stopped) return;
    this.apply(onTick(this.leadership, performance.now()));
    if (this.attempt === undefined) this.attempt = this.try().finally(() => (this.attempt = undefined));
  }

  private async try(): Promise<void> {
    const { lease, me, timing } = this.opts;
    const sentAt = performance.now();
    let outcome: LeaseOutcome;
    try {
      await lease.attend(me, this.opts.appliedSeq());
      const held = this.leadership;
      const granted = held.role === "leader" ? await lease.renew({ holder: me.id, epoch: held.epoch }, timing.ttlMs) : await lease.take(me, timing.ttlMs);
      if (granted) outcome = { type: "Granted", lease: granted, sentAt };
      else {
        const { lease: current, dbNow } = await lease.survey();
        this.refusal = notLeaderMessage(current, dbNow);
        outcome = { type: "Refused", lease: current };
        this.retryEarly(retryAfter(current, dbNow, timing));
      }
    } catch (err) {
      outcome = { type: "Failed", reason: describeDatabaseError(err, this.opts.store.location).message };
      if (this.leadership.role === "standby") this.refusal = `not the leader; the database cannot be reached to find out who is (${outcome.reason})`;
    }
    if (!this.stopped) this.apply(onLeaseOutcome(this.leadership, outcome, performance.now(), timing), outcome);
  }

  /** Ticks again in `delayMs` when that is before the next regular tick. */
  private retryEarly(delayMs: number): void {
    if (delayMs >= this.opts.timing.renewMs || this.early !== undefined) return;
    this.early = setTimeout(() => {
      this.early = undefined;
      this.tick();
    }, delayMs);
  }

  private apply(step: LeadershipStep, outcome?: LeaseOutcome): void {
    const was = this.leadership;
    this.leadership = step.leadership;
    const { store, me, log } = this.opts;
    switch (step.action.type) {
      case "None":
        if (outcome?.type === "Failed" && step.leadership.role === "leader") log.warn("cannot renew the lease; still leading until its deadline", { error: outcome.reason });
        return;
      case "Lead": {
        const epoch = step.action.epoch;
        const fence = { holder: me.id, epoch };
        log.info("leading", { epoch, address: me.address, id: me.id });
        // A term kept for reads stops before the fence lets the new epoch write: its writer never commits in it.
        if (was.role === "standby" && was.servingReads) this.chain(() => this.opts.stepDown());
        else store.fenceWith(fence);
        this.chain(async () => {
          const still = this.leadership;
          if (still.role !== "leader" || still.epoch !== epoch) return;
          store.fenceWith(fence);
          try {
            await this.opts.lead(epoch);
          } catch (err) {
            log.error("could not start leading; stepping down", { epoch, error: (err as Error).message });
            await this.resign(epoch);
          }
        });
        return;
      }
      case "Suspend":
        // Writes are refused from now on; the term stays to answer reads until the database answers.
        store.fenceWith(undefined, `this control plane stopped writing (${step.action.reason})`);
        log.warn("stepping down; answering reads from memory until the database answers", { reason: step.action.reason, id: me.id });
        this.refusal = `not the leader; this control plane just stepped down (${step.action.reason})`;
        this.chain(() => this.opts.suspend());
        return;
      case "StepDown":
        // Writes are refused from now on, even before the term has stopped.
        store.fenceWith(undefined);
        log.warn("stepping down", { reason: step.action.reason, id: me.id });
        // Refused: the attempt has just named the leader, which ctl and agents follow.
        if (outcome?.type !== "Refused") this.refusal = `not the leader; this control plane just stepped down (${step.action.reason})`;
        this.chain(() => this.opts.stepDown());
        return;
    }
  }

  private chain(next: () => Promise<void>): void {
    this.transitions = this.transitions.then(next).catch((err: Error) => this.opts.log.error("leadership transition failed", { error: err.message }));
  }

  /** Gives up a lease taken in `epoch` (its term did not start, or this control plane stops). */
  private async resign(epoch: number): Promise<void> {
    if (this.leadership.role === "leader" && this.leadership.epoch === epoch) this.leadership = { role: "standby" };
    this.opts.store.fenceWith(undefined);
    await this.opts.stepDown();
    await this.opts.lease.release({ holder: this.opts.me.id, epoch }).catch((err: Error) => this.opts.log.warn("could not release the lease; it expires by itself", { error: err.message }));
  }

  /** Stops trying; a leader ends its term, then lets the lease go so that a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.early);
    await this.attempt;
    const held = this.leadership;
    // A term kept for reads ends too.
    this.chain(() => (held.role === "leader" ? this.resign(held.epoch) : held.servingReads ? this.opts.stepDown() : Promise.resolve()));
    await this.transitions;
  }
}
