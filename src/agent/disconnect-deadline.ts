/**
 * The agent's half of the disconnect block: copies whose spec sets
 * `disconnect.stop_on_client_after` are stopped once the agent has heard no control plane for
 * that long (a singleton cut off with its node stops before the control plane places it again
 * elsewhere, when lost_after is longer). The decision is the core's (copiesPastDeadline);
 * this keeps the deadlines of the copies started in this run and checks them on a timer.
 * Shell: a timer and the clock.
 */
import { type CopyDeadline, copiesPastDeadline, disconnectRules } from "../core/model/disconnect.js";
import { resolveSpec } from "../core/model/spec.js";
import type { StartInstance } from "../gen/tessera/v1/agent_gateway.js";
import type { Logger } from "../shell/logger.js";

/** How often the deadlines are checked: a deadline is met within this. */
const CHECK_MS = 500;

interface Tracked extends CopyDeadline {
  generation: number;
  gracePeriodMs: number;
}

export interface DeadlineHooks {
  /** When a control plane was last heard (now while a stream it answered is up). */
  lastHeardAt(): number;
  /** Stops a copy as a StopInstance from the control plane would. */
  stop(copy: { instanceId: string; generation: number; gracePeriodMs: number }): void;
  now?: () => number;
}

export class DisconnectDeadline {
  private readonly tracked = new Map<string, Tracked>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private running = false;

  constructor(
    private readonly hooks: DeadlineHooks,
    private readonly log: Logger,
  ) {}

  /** A copy started with its spec: kept when the spec sets a deadline. */
  track(cmd: StartInstance): void {
    const spec = cmd.spec;
    const after = spec === undefined ? undefined : disconnectRules(spec).stopOnClientAfterMs;
    if (spec === undefined || after === undefined) return;
    this.tracked.set(cmd.instanceId, { instanceId: cmd.instanceId, stopOnClientAfterMs: after, generation: cmd.generation, gracePeriodMs: resolveSpec(spec).stopGracePeriodMs });
    this.arm();
  }

  /** A copy stopped by the control plane: no deadline of its own any more. */
  forget(instanceId: string): void {
    this.tracked.delete(instanceId);
    this.arm();
  }

  /** Stops the copies past their deadline, once each. */
  check(): void {
    const heard = this.hooks.lastHeardAt();
    const now = (this.hooks.now ?? Date.now)();
    for (const id of copiesPastDeadline(this.tracked.values(), heard, now)) {
      const t = this.tracked.get(id)!;
      this.tracked.delete(id);
      this.log.warn("stopping a copy: no control plane heard for longer than its disconnect.stop_on_client_after", { instance: id, silentMs: now - heard, stopOnClientAfterMs: t.stopOnClientAfterMs });
      this.hooks.stop(t);
    }
    this.arm();
  }

  /** Checks on a timer from now on, while a tracked copy has a deadline (most agents have none). */
  start(): void {
    this.running = true;
    this.arm();
  }

  stop(): void {
    this.running = false;
    this.arm();
  }

  /** The timer runs while started and something is tracked: ten thousand idle agents in one process were each woken twice a second for nothing. */
  private arm(): void {
    const wanted = this.running && this.tracked.size > 0;
    if (wanted && this.timer === undefined) this.timer = setInterval(() => this.check(), CHECK_MS);
    if (!wanted && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
