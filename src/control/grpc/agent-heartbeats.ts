/**
 * The agent gateway's heartbeats (issue 33): the interval the fleet is told to beat at, the
 * thresholds that go with it, and the beats heard, handed to the writer as one Heartbeats
 * command per short window, not one command (and one writer turn) each.
 * Shell: a timer. The interval, the thresholds and what a beat means are the core's
 * (model/heartbeat.ts, decide/agent-sessions.ts).
 */
import type { ControlMessage } from "../../gen/tessera/v1/agent_gateway.js";
import { fleetHeartbeat, type HeartbeatPolicy, type HeartbeatTiming, toldIntervalMs } from "../../core/model/heartbeat.js";
import type { HealthThresholds } from "../../core/model/node-health.js";
import { describeRejection } from "../../core/model/rejections.js";
import type { Logger } from "../../shell/logger.js";
import type { CommandPort } from "../writer/writer.js";

/**
 * How long beats are collected before they go to the writer as one command. A beat is
 * recorded at most this much later than it arrived, so a node may be judged this much later
 * (a tenth of the one-second slack the smallest thresholds leave).
 */
export const HEARTBEAT_WINDOW_MS = 100;

/** The message that tells an agent its interval (0: its own --heartbeat). Not acknowledged: command id 0. */
export function intervalMessage(intervalMs: number): ControlMessage {
  return { commandId: 0, command: { $case: "heartbeatInterval", value: { intervalMs } } };
}

export class AgentHeartbeats {
  /** Node → the session it beat on, in the window open now. */
  private heard = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timing: HeartbeatTiming;

  constructor(
    private readonly writer: CommandPort,
    private readonly policy: HeartbeatPolicy,
    private readonly log: Logger,
  ) {
    this.timing = fleetHeartbeat(writer.view, policy);
  }

  /** The Suspect and Offline thresholds of the fleet as it is. */
  get thresholds(): HealthThresholds {
    return this.timing;
  }

  /** What agents are told now (0: their own --heartbeat). */
  get toldMs(): number {
    return toldIntervalMs(this.timing);
  }

  /** A heartbeat of `node` on stream `session`: recorded with the window's others. */
  beat(node: string, session: number): void {
    this.heard.set(node, session);
    this.timer ??= setTimeout(() => this.flush(), HEARTBEAT_WINDOW_MS);
  }

  private flush(): void {
    this.timer = undefined;
    const beats = [...this.heard].map(([node, session]) => ({ node, session }));
    this.heard = new Map();
    if (beats.length === 0) return;
    this.writer.submit({ type: "Heartbeats", beats }).then(
      (d) => d.rejection && this.log.warn("Heartbeats refused", { details: describeRejection(d.rejection) }),
      (err: Error) => this.log.debug("Heartbeats dropped", { nodes: beats.length, error: err.message }),
    );
  }

  /**
   * Reads the fleet again after a commit that may have changed its size (a node connected or
   * removed); true when the interval changed, and every agent is to be told.
   */
  refresh(): boolean {
    const t = fleetHeartbeat(this.writer.view, this.policy);
    const changed = t.intervalMs !== this.timing.intervalMs;
    this.timing = t;
    if (changed) this.log.info("fleet heartbeat interval changed", { intervalMs: t.intervalMs, suspectAfterMs: t.suspectAfterMs, offlineAfterMs: t.offlineAfterMs });
    return changed;
  }

  /** Every stream ended: the beats of the window open go with them. */
  drop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.heard.clear();
  }
}
