/**
 * Gates: pure functions that say why something may NOT happen now, or nothing when it may.
 * The reconciler asks them; tests table them. PURE.
 */
import type { BatchOutcome, ClusterView, Instance, NodeRecord } from "../model/cluster-state.js";
import type { DisconnectRules } from "../model/disconnect.js";
import { formatDurationMs } from "../model/duration.js";
import type { HealthThresholds } from "../model/node-health.js";
import type { Rejection } from "../model/rejections.js";
import type { ResolvedSpec } from "../model/spec.js";

export type GateName = "restart-policy" | "restart-backoff" | "quarantine" | "cordon" | "surge" | "disruption" | "parallelism" | "ttl" | "canary" | "soak" | "paused" | "wave" | "disconnect";

/** A gate's refusal: which gate, why, and (when it is a matter of time) from when it will allow. */
export interface Hold {
  gate: GateName;
  reason: string;
  until?: number;
}

export interface QuarantinePolicy {
  /** Failures of one workload on one node within the window that quarantine the node. */
  crashLoopFailures: number;
  crashLoopWindowMs: number;
  /** How long the node is avoided after the last of those failures. */
  quarantineMs: number;
}

/** Exponential restart delay after the `attempt`-th consecutive failure (0-based), capped. */
export function restartBackoffMs(attempt: number, spec: ResolvedSpec): number {
  return Math.min(spec.maxBackoffMs, spec.initialBackoffMs * 2 ** Math.min(attempt, 30));
}

/**
 * Restart policy and backoff: may a failed instance be replaced at `now`?
 * `never` holds forever; `on_failure` holds after a clean exit (the work completed).
 */
export function restartGate(failed: Instance, spec: ResolvedSpec, now: number): Hold | undefined {
  if (spec.restart === "never") return { gate: "restart-policy", reason: `restart policy never: ${failed.reason}` };
  if (spec.restart === "on_failure" && failed.exitCode === 0) return { gate: "restart-policy", reason: "completed (exit 0) under restart policy on_failure" };
  const until = failed.updatedAt + restartBackoffMs(failed.attempt, spec);
  if (now < until) return { gate: "restart-backoff", reason: `restart backoff after: ${failed.reason}`, until };
  return undefined;
}

/**
 * Crash-loop quarantine: has this workload's current template failed too often on this node
 * lately? (Its history holds only the current template's failures: cluster-state.ts.)
 */
export function quarantineGate(state: ClusterView, workload: string, node: string, now: number, policy: QuarantinePolicy): Hold | undefined {
  const times = state.crashes.get(workload)?.get(node);
  if (!times || times.length < policy.crashLoopFailures) return undefined;
  const last = times[times.length - 1]!;
  const kth = times[times.length - policy.crashLoopFailures]!;
  if (last - kth > policy.crashLoopWindowMs) return undefined;
  const until = last + policy.quarantineMs;
  if (now >= until) return undefined;
  return { gate: "quarantine", reason: `crash loop: ${policy.crashLoopFailures} failures within ${policy.crashLoopWindowMs / 1000}s`, until };
}

/** The nodes where the workload is in crash-loop quarantine at `now`, by name; only nodes where it failed are looked at. */
export function quarantinesOf(state: ClusterView, workload: string, now: number, policy: QuarantinePolicy): Array<{ node: string } & Hold> {
  const out: Array<{ node: string } & Hold> = [];
  for (const node of state.crashes.get(workload)?.keys() ?? []) {
    const held = quarantineGate(state, workload, node, now, policy);
    if (held) out.push({ node, ...held });
  }
  return out.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}

/**
 * The disconnect block: may a copy on an Offline node, silent since `silentSince`, be lost (and
 * so replaced)? Never with replace: false, where the workload waits for the node; with
 * lost_after, once the node has been silent that long (silence counted as node health counts it).
 */
export function disconnectGate(rules: DisconnectRules, silentSince: number, now: number): Hold | undefined {
  if (!rules.replace) return { gate: "disconnect", reason: "disconnect.replace is false: its copy is kept, and the workload waits for the node" };
  if (rules.lostAfterMs === undefined) return undefined;
  const until = silentSince + rules.lostAfterMs + 1;
  return now >= until ? undefined : { gate: "disconnect", reason: `disconnect.lost_after: kept until its node has been silent ${formatDurationMs(rules.lostAfterMs)}`, until };
}

/** Cordon and drain: may new work go to this node? */
export function cordonGate(node: NodeRecord): Hold | undefined {
  if (node.draining) return { gate: "cordon", reason: "draining" };
  if (!node.schedulable) return { gate: "cordon", reason: "cordoned" };
  return undefined;
}

/** Surge budget: may one more non-terminal instance exist? */
export function surgeGate(nonTerminal: number, spec: ResolvedSpec): Hold | undefined {
  const limit = spec.replicas + spec.maxSurge;
  return nonTerminal < limit ? undefined : { gate: "surge", reason: `max_surge: ${nonTerminal} instances exist, limit ${limit}` };
}

/** Batch parallelism: may one more copy run, with `active` running or about to? */
export function parallelismGate(active: number, spec: ResolvedSpec): Hold | undefined {
  return active < spec.parallelism ? undefined : { gate: "parallelism", reason: `parallelism ${spec.parallelism}: ${active} running` };
}

/** A finished batch's time to live: may it be deleted at `now`? Never without ttl_after_finished. */
export function ttlGate(finished: BatchOutcome, spec: ResolvedSpec, now: number): Hold | undefined {
  if (spec.ttlAfterFinishedMs === undefined) return { gate: "ttl", reason: `${finished.outcome}: kept until deleted (no ttl_after_finished)` };
  const until = finished.at + spec.ttlAfterFinishedMs;
  return now >= until ? undefined : { gate: "ttl", reason: `${finished.outcome}: deleted once its ttl_after_finished has passed`, until };
}

/**
 * Canary hold: may slot `index` go on with the rollout? Not while the rollout waits for its
 * promotion: a canary's old copy stays, and slots past the canaries are not replaced yet.
 */
export function canaryGate(canaries: number, index: number): Hold | undefined {
  if (canaries === 0) return undefined;
  return { gate: "canary", reason: index < canaries ? "canary: its old copy stays until the rollout is promoted" : `held until the rollout is promoted (${canaries} canar${canaries === 1 ? "y" : "ies"} first)` };
}

/** Pause: may a rollout go on replacing old copies? Not while paused. */
export function pausedGate(paused: boolean): Hold | undefined {
  return paused ? { gate: "paused", reason: "rollout paused (tessera ctl rollout resume to go on)" } : undefined;
}

/** Soak: has a Ready copy been Ready for min_healthy_time (so it is available)? Holds until it has. */
export function soakGate(copy: Instance, minHealthyMs: number, now: number): Hold | undefined {
  const until = (copy.readySince ?? now) + minHealthyMs;
  return now >= until ? undefined : { gate: "soak", reason: `${copy.id} soaking for min_healthy_time, ${formatDurationMs(until - now)} left`, until };
}

/**
 * Unavailability budget: may one more Ready copy be taken down? One not `counted` among the
 * `available` (Ready, not soaked yet) leaves them as they are: allowed while they hold the floor,
 * so Ready copies, never fewer than available ones, hold it too.
 */
export function disruptionGate(available: number, spec: ResolvedSpec, counted = true): Hold | undefined {
  const floor = spec.replicas - spec.maxUnavailable;
  return (counted ? available - 1 : available) >= floor ? undefined : { gate: "disruption", reason: `max_unavailable: ${available} available, floor ${floor}` };
}

/**
 * May a new agent stream take over node `node`? Not while the current one is alive (heard
 * within the Suspect threshold): two agents started with one name would otherwise replace each
 * other's stream on every reconnect. A stream gone quiet (a half-open connection after a
 * partition, an agent killed without its stream closing) is taken over.
 */
export function sessionGate(node: string, current: { lastHeardAt: number } | undefined, now: number, t: HealthThresholds): Rejection | undefined {
  if (current === undefined) return undefined;
  const heardMsAgo = now - current.lastHeardAt;
  return heardMsAgo <= t.suspectAfterMs ? { kind: "NodeAlreadyConnected", node, heardMsAgo } : undefined;
}
