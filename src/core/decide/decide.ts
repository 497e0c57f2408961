/**
 * Commands into the control plane and the decisions they lead to. PURE:
 * decide(state, command, now) → events to record, effects to run, or a named rejection.
 * It never mutates `state`; the single writer applies the returned events with `evolve`.
 */
import { boundStderrTail } from "../output/stderr-tail.js";
import type { WorkloadSpec } from "../../gen/tessera/v1/types.js";
import type { Effect } from "../model/effects.js";
import {
  type InstanceEvent,
  type InstanceEventType,
  type InstanceState,
  pathBetween,
  REPORTED_EVENTS,
  type ReportedState,
  transition,
} from "../model/instance-machine.js";
import { type Capacity, checkFailureReason, type ClusterState, type Instance, type NodeLimits, instancesOfWorkload, type TokenKind, type Workload, workloadOfInstanceId } from "../model/cluster-state.js";
import type { ClusterEvent, ListeningCause } from "../events/cluster-events.js";
import { desiredCopies, succeededIndexes, waitingCanaries } from "../model/cluster-status.js";
import { isOutdated } from "../reconcile/copies.js";
import type { NodePorts } from "../model/ports.js";
import type { HostVolume } from "../model/volumes.js";
import { instanceTemplate, kindOf, resolveSpec, sameTemplate, stopGracePeriodOf } from "../model/spec.js";
import type { Rejection } from "../model/rejections.js";
import { validateName, validateWorkload } from "../model/validate.js";
import { execTarget, validateExecCommand } from "./exec.js";
import { type IdentityCommand, identityDeciders } from "../access/node-identity.js";

export interface HeldInstance {
  id: string;
  generation: number;
  state: InstanceState;
  /** For a failed instance: why, and its exit code. */
  reason?: string;
  exitCode?: number;
  /** For a failed instance: the end of its stderr, as the agent read it (bounded again here). */
  stderrTail?: string;
}

export type Command =
  /** `force`: apply even a spec whose rollout failed and was reverted. */
  | { type: "ApplyWorkload"; name: string; labels: Record<string, string>; spec: WorkloadSpec | undefined; force?: boolean }
  /** Several applies, all or nothing. */
  | { type: "ApplyWorkloads"; workloads: Array<{ name: string; labels: Record<string, string>; spec: WorkloadSpec | undefined }>; force?: boolean }
  /** Promote a rollout held at its canaries; `by` says who (for history). */
  | { type: "PromoteRollout"; name: string; by: string }
  /** Pause a workload's rollout, or resume it. */
  | { type: "PauseRollout"; name: string; paused: boolean; by: string }
  /** Lift a workload's crash-loop quarantine on `node` (absent: every node); `by` says who. */
  | { type: "LiftQuarantine"; name: string; node?: string; by: string }
  | { type: "DeleteWorkload"; name: string }
  | { type: "RestartWorkload"; name: string }
  /** `rollout undo`: to the spec before the last change, or `to` a revision (its spec, read from the log). */
  | { type: "RollbackWorkload"; name: string; to?: { revision: number; spec: WorkloadSpec } }
  | {
      type: "AgentConnected";
      node: string;
      session: number;
      executors: string[];
      version: string;
      labels: Record<string, string>;
      capacity: Capacity;
      /** Absent in turns recorded before ports (golden logs): such a node offers none. */
      ports?: NodePorts;
      /** Absent in turns recorded before host volumes (golden logs): such a node offers none. */
      volumes?: HostVolume[];
      /** Absent when the agent said nothing of limits (no process executor, an older agent). */
      limits?: NodeLimits;
      instances: HeldInstance[];
    }
  | { type: "AgentDisconnected"; node: string; session: number }
  /** Issue an API token whose SHA-256 (hex) is `hash`; the shell made the secret. */
  | { type: "IssueToken"; kind: TokenKind; hash: string; by: string; expiresAt?: number; uses?: number; keepOthers?: boolean }
  | IdentityCommand
  /** The control plane listens to agents from now on (see ListeningStarted). */
  | { type: "StartListening"; cause: ListeningCause }
  | { type: "Heartbeat"; node: string; session: number }
  /** A readiness check's verdict; a failing one says why in `detail` (what its last probe said). */
  | { type: "ReportCheck"; node: string; instanceId: string; generation: number; check: string; passing: boolean; detail?: string }
  | { type: "CordonNode"; node: string }
  | { type: "UncordonNode"; node: string }
  | { type: "DrainNode"; node: string }
  /** Record that `by` runs `command` in a copy of `workload` (`instance`: a name, an id, or "" for the first running). */
  | { type: "RecordExec"; workload: string; instance: string; command: string[]; by: string }
  | {
      type: "ReportInstance";
      node: string;
      instanceId: string;
      generation: number;
      state: ReportedState;
      reason: string;
      exitCode?: number;
      /** For FAILED: the end of its stderr, as the agent read it (bounded again here). */
      stderrTail?: string;
    };
export type CommandType = Command["type"];

export interface Decision {
  events: ClusterEvent[];
  effects: Effect[];
  /**
   * Set when the command was refused; then no events are recorded. Effects may remain: a
   * report about an instance nobody knows is refused AND that instance is told to stop.
   */
  rejection?: Rejection;
  /** For ApplyWorkload: what it did. */
  applied?: ApplyOutcome;
  /** For ApplyWorkloads: what it did, per workload in the command's order. */
  appliedEach?: ApplyOutcome[];
}

/** What an apply did to a workload: new, a changed spec (a new generation), only new labels, nothing. */
export type ApplyOutcome = "created" | "configured" | "relabeled" | "unchanged";

const accept = (events: ClusterEvent[] = [], effects: Effect[] = [], applied?: ApplyOutcome): Decision => ({ events, effects, applied });
const refuse = (rejection: Rejection): Decision => ({ events: [], effects: [], rejection });

type Decider<K extends CommandType> = (state: ClusterState, command: Extract<Command, { type: K }>, now: number) => Decision;

/** Deep equality for plain JSON-like values (specs and label maps). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function instanceEventFor(type: InstanceEventType, reason: string, exitCode?: number, stderrTail?: string): InstanceEvent | undefined {
  switch (type) {
    case "provision":
    case "run":
      return { type };
    case "fail": {
      // Whatever size the agent sent, the event log keeps a bounded tail; none, no key.
      const tail = boundStderrTail(stderrTail ?? "");
      return tail === "" ? { type, reason, exitCode } : { type, reason, exitCode, stderrTail: tail };
    }
    // Only a hello's catch-up leads here (no report is of a stop).
    case "stop":
      return { type, reason, caughtUp: true };
    case "finish":
      return { type, exitCode };
    // A batch run's exit 0 (see succeeds).
    case "succeed":
      return { type };
    // Only the control plane decides these; no report leads to them.
    case "place":
    case "lose":
    case "reclaim":
      return undefined;
  }
}

/** Whether what an agent says of a copy (it ended, with this exit code) is a batch run's success. */
function succeeds(state: ClusterState, inst: Instance, reported: InstanceState, exitCode: number | undefined): boolean {
  if (reported !== "failed" || exitCode !== 0 || inst.desired !== "run") return false;
  const w = state.workloads.get(inst.workload);
  return w !== undefined && kindOf(w.spec) === "batch";
}

/** Tells a copy's agent to let go of it (it stops what still runs, forgets what ended). */
function release(state: ClusterState, inst: Instance): Effect {
  return { type: "StopInstance", node: inst.node!, instanceId: inst.id, generation: inst.generation, gracePeriodMs: stopGracePeriodOf(state, inst.workload) };
}

/**
 * Whether a Lost copy whose node came back running it is still wanted: its workload still
 * wants its slot, and no other copy of that slot runs (a replacement that is only Pending,
 * Scheduled or Provisioning is cancelled in its favour, as Nomad's disconnect reconcile does).
 */
/** Two nodes or more, and every one Offline: the control plane heard none of them. */
function fleetWentSilent(state: ClusterState): boolean {
  if (state.nodes.size < 2) return false;
  for (const node of state.nodes.values()) if (node.health !== "offline") return false;
  return true;
}

function reclaimable(state: ClusterState, lost: Instance): boolean {
  const w = state.workloads.get(lost.workload);
  if (w === undefined || w.deleting) return false;
  // An outdated copy (an older template, or one a restart replaces) would only be replaced again: its replacement stays.
  if (isOutdated(w, lost)) return false;
  const spec = resolveSpec(w.spec);
  const copies = instancesOfWorkload(state, lost.workload);
  const runs = (i: Instance) => i.id !== lost.id && i.desired === "run" && i.state === "running";
  switch (spec.kind) {
    // A system copy belongs to its node: wanted again unless another runs there.
    case "system":
      return !copies.some((i) => runs(i) && i.node === lost.node);
    case "batch":
      return w.finished === null && lost.index < spec.replicas && !succeededIndexes(w, copies).has(lost.index) && !copies.some((i) => runs(i) && i.index === lost.index);
    case "service":
      return lost.index < desiredCopies(state, w) && !copies.some((i) => runs(i) && i.index === lost.index);
  }
}

/**
 * Going back to the template before the last change (`rollout undo`, or that spec applied
 * again): the generation its copies start at, so the copies still running it are kept (as
 * auto_revert keeps them) and only those of the template undone are replaced. Undefined when
 * they cannot be told apart: after a revert, or with no record of that generation.
 */
function keptFrom(prior: Workload | undefined, spec: WorkloadSpec): number | undefined {
  if (prior === undefined || prior.reverted !== null || prior.previousSpec === null || prior.previousTemplateGeneration === 0) return undefined;
  return sameTemplate(prior.previousSpec, spec) ? prior.previousTemplateGeneration : undefined;
}

/** A refusal of one workload of an ApplyWorkloads, located: `workload.spec` → `workloads[3].spec`. */
function atIndex(r: Rejection, i: number): Rejection {
  return r.kind === "InvalidArgument" ? { ...r, field: r.field.replace(/^workload\b/, `workloads[${i}]`) } : r;
}

/** How much of a failing check's detail is kept: a line for people (an agent's probe says a few words). */
const CHECK_DETAIL_CHARS = 300;

const deciders: { [K in CommandType]: Decider<K> } = {
  ApplyWorkloads(state, c, now) {
    if (c.workloads.length === 0) return refuse({ kind: "InvalidArgument", field: "workloads", expected: "at least one workload" });
    const seen = new Set<string>();
    const events: ClusterEvent[] = [];
    const appliedEach: ApplyOutcome[] = [];
    for (const [i, w] of c.workloads.entries()) {
      if (seen.has(w.name)) return refuse({ kind: "InvalidArgument", field: `workloads[${i}].name`, expected: `a name not used earlier in the request, got "${w.name}" again` });
      seen.add(w.name);
      // Distinct names: each decision reads only its own workload, so all can read `state`.
      const d = deciders.ApplyWorkload(state, { type: "ApplyWorkload", ...w, force: c.force }, now);
      if (d.rejection) return refuse(atIndex(d.rejection, i));
      events.push(...d.events);
      appliedEach.push(d.applied!);
    }
    return { events, effects: [], appliedEach };
  },
  ApplyWorkload(state, c, now) {
    const problems = validateWorkload({ name: c.name, labels: c.labels, spec: c.spec });
    if (problems.length > 0) return refuse(problems[0]!);
    const spec = c.spec!;
    const prior = state.workloads.get(c.name);
    if (prior?.deleting) return refuse({ kind: "WorkloadDeleting", name: c.name });
    const failed = prior?.quarantined.find((q) => sameTemplate(q.spec, spec));
    if (failed !== undefined && !c.force) return refuse({ kind: "QuarantinedSpec", name: c.name, generation: failed.generation, reason: failed.reason });
    const specChanged = prior === undefined || !sameValue(prior.spec, spec);
    if (!specChanged && sameValue(prior.labels, c.labels)) return accept([], [], "unchanged");
    const generation = prior === undefined ? 1 : specChanged ? prior.generation + 1 : prior.generation;
    const templateChanged = prior === undefined || !sameValue(instanceTemplate(prior.spec), instanceTemplate(spec));
    const templateGeneration = templateChanged ? (keptFrom(prior, spec) ?? generation) : prior.templateGeneration;
    const workload: Extract<ClusterEvent, { type: "WorkloadApplied" }>["workload"] = {
      name: c.name,
      labels: c.labels,
      spec,
      generation,
      templateGeneration,
    };
    // What runs changes: remember what ran before, for `rollout undo`.
    const previousSpec = prior !== undefined && templateChanged ? prior.spec : undefined;
    return accept([{ type: "WorkloadApplied", at: now, workload, ...(previousSpec ? { previousSpec } : {}), ...(failed ? { forced: true as const } : {}) }], [], prior === undefined ? "created" : specChanged ? "configured" : "relabeled");
  },

  PauseRollout(state, c, now) {
    const nameProblem = validateName(c.name);
    if (nameProblem) return refuse(nameProblem);
    const w = state.workloads.get(c.name);
    if (!w) return refuse({ kind: "UnknownWorkload", name: c.name });
    return w.paused === c.paused ? accept() : accept([{ type: "RolloutPaused", at: now, name: c.name, paused: c.paused, by: c.by }]);
  },

  LiftQuarantine(state, c, now) {
    const nameProblem = validateName(c.name);
    if (nameProblem) return refuse(nameProblem);
    if (!state.workloads.has(c.name)) return refuse({ kind: "UnknownWorkload", name: c.name });
    if (c.node !== undefined && !state.nodes.has(c.node)) return refuse({ kind: "UnknownNode", name: c.node });
    // Its history holds only its current spec's failures: anything there is what may hold it.
    const history = state.crashes.get(c.name);
    if (history === undefined || (c.node !== undefined && !history.has(c.node))) return refuse({ kind: "NotQuarantined", name: c.name, node: c.node });
    return accept([{ type: "QuarantineLifted", at: now, name: c.name, ...(c.node !== undefined ? { node: c.node } : {}), by: c.by }]);
  },

  PromoteRollout(state, c, now) {
    const nameProblem = validateName(c.name);
    if (nameProblem) return refuse(nameProblem);
    const w = state.workloads.get(c.name);
    if (!w) return refuse({ kind: "UnknownWorkload", name: c.name });
    const spec = resolveSpec(w.spec);
    if (waitingCanaries(w, spec, instancesOfWorkload(state, c.name)) === 0)
      return refuse({ kind: "NothingToPromote", name: c.name, why: spec.canary === 0 ? "its update strategy has no canary" : w.promoted ? "its rollout was promoted already" : "no rollout waits at its canaries" });
    return accept([{ type: "RolloutPromoted", at: now, name: c.name, by: c.by }]);
  },

  DeleteWorkload(state, c, now) {
    const nameProblem = validateName(c.name);
    if (nameProblem) return refuse(nameProblem);
    const w = state.workloads.get(c.name);
    if (!w) return refuse({ kind: "UnknownWorkload", name: c.name });
    if (w.deleting) return accept();
    return accept([{ type: "WorkloadDeleteRequested", at: now, name: c.name }]);
  },

  RestartWorkload(state, c, now) {
    const nameProblem = validateName(c.name);
    if (nameProblem) return refuse(nameProblem);
    const w = state.workloads.get(c.name);
    if (!w) return refuse({ kind: "UnknownWorkload", name: c.name });
    if (w.deleting) return refuse({ kind: "WorkloadDeleting", name: c.name });
    // Every instance that exists now is replaced; ones created from here on are not.
    return accept([{ type: "WorkloadRestartRequested", at: now, name: c.name, restartSeq: state.nextInstanceSeq }]);
  },

  RollbackWorkload(state, c, now) {
    const nameProblem = validateName(c.name);
    if (nameProblem) return refuse(nameProblem);
    const w = state.workloads.get(c.name);
    if (!w) return refuse({ kind: "UnknownWorkload", name: c.name });
    if (!c.to && !w.previousSpec) return refuse({ kind: "NothingToUndo", name: c.name });
    const d = deciders.ApplyWorkload(state, { type: "ApplyWorkload", name: c.name, labels: w.labels, spec: c.to?.spec ?? w.previousSpec! }, now);
    // Recorded as an undo, so that `rollout history` says so.
    const undo = c.to ? { to: c.to.revision } : {};
    return { ...d, events: d.events.map((e) => (e.type === "WorkloadApplied" ? { ...e, undo } : e)) };
  },

  AgentConnected(state, c, now) {
    const events: ClusterEvent[] = [
      // Every node silent past the Offline threshold at once says more about the control plane's
      // own network than about the fleet: the first node back gives the others the grace of a
      // restart to reconnect before their copies count as lost (see plan's fleet-silence rule).
      ...(fleetWentSilent(state) ? [{ type: "ListeningStarted", at: now, cause: "fleet-returned" } as const] : []),
      { type: "NodeConnected", at: now, name: c.node, session: c.session, executors: c.executors, version: c.version, labels: c.labels, capacity: c.capacity, ...(c.ports ? { ports: c.ports } : {}), ...(c.volumes ? { volumes: c.volumes } : {}), ...(c.limits ? { limits: c.limits } : {}) },
    ];
    const effects: Effect[] = [];
    const held = new Map(c.instances.map((h) => [h.id, h]));
    const stop = (instanceId: string, generation: number) =>
      effects.push({ type: "StopInstance", node: c.node, instanceId, generation, gracePeriodMs: stopGracePeriodOf(state, workloadOfInstanceId(instanceId)) });

    // Catch the record up with what the agent holds; resend what it never received.
    for (const inst of state.instances.values()) {
      if (inst.node !== c.node || inst.state === "stopped" || inst.state === "pending") continue;
      const h = held.get(inst.id);
      held.delete(inst.id);
      if (inst.state === "succeeded") {
        // Done: an agent that still holds it lets it go.
        if (h !== undefined && h.state !== "stopped") stop(inst.id, inst.generation);
        continue;
      }
      let target: InstanceState;
      if (h === undefined) {
        if (inst.state === "scheduled" && inst.desired === "run") {
          const w = state.workloads.get(inst.workload)!;
          // Resent with the ports it was placed with, at the address the agent gives now.
          effects.push({ type: "StartInstance", node: c.node, instanceId: inst.id, name: inst.name, workload: inst.workload, generation: inst.generation, spec: w.spec, ports: inst.ports, hostIp: c.ports?.address ?? "" });
          continue;
        }
        // The agent lost it (restarted without it): it is no longer running anywhere.
        target = inst.desired === "stop" || inst.state === "stopping" || inst.state === "failed" ? "stopped" : "failed";
      } else if (inst.state === "lost") {
        if (h.state === "running" && reclaimable(state, inst)) {
          // Nothing took its place yet: keep what runs rather than trade it for a cold start.
          // The reconciler then stops the not-yet-running replacement as a duplicate.
          events.push({ type: "InstanceTransitioned", at: now, id: inst.id, event: { type: "reclaim" } });
          continue;
        }
        // Replaced while its node was away: stop the stale copy. It stays Lost (not counted
        // against the workload's budget) until the agent reports it stopped.
        stop(inst.id, inst.generation);
        continue;
      } else if (succeeds(state, inst, h.state, h.exitCode)) {
        target = "succeeded";
        stop(inst.id, inst.generation);
      } else {
        target = h.state;
        if (inst.desired === "stop" && target !== "stopped") stop(inst.id, inst.generation);
      }
      const path = pathBetween(inst.state, target) ?? [];
      for (const type of path) {
        const event = instanceEventFor(type, h === undefined ? "lost: the agent no longer holds it" : (h.reason ?? "reported on reconnect"), h?.exitCode, h?.stderrTail);
        if (event) events.push({ type: "InstanceTransitioned", at: now, id: inst.id, event });
      }
    }
    // Whatever the agent holds that the control plane does not want is stopped.
    for (const h of held.values()) {
      if (h.state !== "stopped") stop(h.id, h.generation);
    }
    return accept(events, effects);
  },

  IssueToken(state, c, now) {
    if (!/^[0-9a-f]{64}$/.test(c.hash)) return refuse({ kind: "InvalidArgument", field: "token.hash", expected: "a SHA-256 in hex" });
    // Issuing a token that is active already (a restart adopting the token file again) changes nothing.
    if (state.tokens.get(c.hash)?.kind === c.kind) return accept();
    if (c.expiresAt !== undefined && !(c.expiresAt > now)) return refuse({ kind: "InvalidArgument", field: "ttl", expected: "a lifetime above zero" });
    if (c.uses !== undefined && (c.kind !== "join" || !(Number.isInteger(c.uses) && c.uses > 0))) return refuse({ kind: "InvalidArgument", field: "uses", expected: "a whole number above zero, for a join token" });
    const limits = { ...(c.expiresAt !== undefined && { expiresAt: c.expiresAt }), ...(c.uses !== undefined && { uses: c.uses }), ...(c.keepOthers && { keepOthers: true }) };
    return accept([{ type: "TokenIssued", at: now, kind: c.kind, hash: c.hash, by: c.by, ...limits }]);
  },
  ...identityDeciders,

  StartListening(_state, c, now) {
    return accept([{ type: "ListeningStarted", at: now, cause: c.cause }]);
  },

  AgentDisconnected(state, c, now) {
    const node = state.nodes.get(c.node);
    if (!node || node.session !== c.session || !node.connected) return accept();
    return accept([{ type: "NodeDisconnected", at: now, name: c.node }]);
  },

  Heartbeat(state, c, now) {
    const node = state.nodes.get(c.node);
    if (!node) return refuse({ kind: "UnknownNode", name: c.node });
    // An Offline node's instances were given up; it comes back only through a new hello,
    // which reconciles what it still runs.
    if (node.session !== c.session || node.health === "offline") return refuse({ kind: "StaleSession", node: c.node });
    return accept([{ type: "NodeHeartbeatReceived", at: now, name: c.node }]);
  },

  CordonNode(state, c, now) {
    const node = state.nodes.get(c.node);
    if (!node) return refuse({ kind: "UnknownNode", name: c.node });
    return node.schedulable ? accept([{ type: "NodeCordoned", at: now, name: c.node }]) : accept();
  },

  UncordonNode(state, c, now) {
    const node = state.nodes.get(c.node);
    if (!node) return refuse({ kind: "UnknownNode", name: c.node });
    return node.schedulable && !node.draining ? accept() : accept([{ type: "NodeUncordoned", at: now, name: c.node }]);
  },

  DrainNode(state, c, now) {
    const node = state.nodes.get(c.node);
    if (!node) return refuse({ kind: "UnknownNode", name: c.node });
    return node.draining ? accept() : accept([{ type: "NodeDrainStarted", at: now, name: c.node }]);
  },

  RecordExec(state, c, now) {
    const bad = validateExecCommand(c.command, "start.command");
    if (bad) return refuse(bad);
    const target = execTarget(state, c.workload, c.instance);
    if ("kind" in target) return refuse(target);
    return accept([{ type: "InstanceExecStarted", at: now, id: target.id, node: target.node!, command: c.command, by: c.by }]);
  },

  ReportCheck(state, c, now) {
    const inst = state.instances.get(c.instanceId);
    if (!inst) return refuse({ kind: "UnknownInstance", id: c.instanceId });
    if (inst.node !== c.node) return refuse({ kind: "WrongNode", id: inst.id, node: inst.node, reportedBy: c.node });
    if (c.generation < inst.generation) return refuse({ kind: "StaleGeneration", id: inst.id, reported: c.generation, current: inst.generation });
    if (!inst.readinessChecks.includes(c.check)) return refuse({ kind: "InvalidArgument", field: "check.check", expected: `one of the readiness checks of ${inst.id} (${inst.readinessChecks.join(", ") || "none"})` });
    // A verdict about a copy that no longer runs arrived late: nothing to record.
    if (inst.state !== "running") return refuse({ kind: "SupersededReport", id: inst.id, reported: "running", current: inst.state });
    // A failing check is recorded with why, and again when why changes: it is the copy's reason.
    const detail = c.passing || !c.detail ? undefined : c.detail.slice(0, CHECK_DETAIL_CHARS);
    if (inst.passing.includes(c.check) === c.passing && (detail === undefined || inst.reason === checkFailureReason(c.check, detail))) return accept();
    return accept([{ type: "InstanceCheckReported", at: now, id: inst.id, check: c.check, passing: c.passing, ...(detail === undefined ? {} : { detail }) }]);
  },

  ReportInstance(state, c, now) {
    const inst = state.instances.get(c.instanceId);
    if (!inst) {
      // Something runs that nobody wants: have it stopped.
      const effects: Effect[] =
        c.state === "provisioning" || c.state === "running"
          ? [{ type: "StopInstance", node: c.node, instanceId: c.instanceId, generation: c.generation, gracePeriodMs: stopGracePeriodOf(state, workloadOfInstanceId(c.instanceId)) }]
          : [];
      return { events: [], effects, rejection: { kind: "UnknownInstance", id: c.instanceId } };
    }
    if (inst.node !== c.node) return refuse({ kind: "WrongNode", id: inst.id, node: inst.node, reportedBy: c.node });
    if (c.generation < inst.generation) return refuse({ kind: "StaleGeneration", id: inst.id, reported: c.generation, current: inst.generation });
    // A retried report of the state already recorded changes nothing (the agent resends after
    // reconnecting); it is not an invalid transition.
    if (inst.state === c.state) return accept();
    // Its agent lets go of a succeeded copy, reporting it stopped: the run is done already.
    if (inst.state === "succeeded") return refuse({ kind: "SupersededReport", id: inst.id, reported: c.state, current: inst.state });
    if (succeeds(state, inst, c.state, c.exitCode)) {
      const result = transition(inst.state, { type: "succeed" });
      if (!result.ok) return refuse(result.rejection);
      // Agents hold an exited copy until told to stop it: this one is done, so let it go.
      return accept([{ type: "InstanceTransitioned", at: now, id: inst.id, event: { type: "succeed" } }], [release(state, inst)]);
    }
    const event = instanceEventFor(REPORTED_EVENTS[c.state], c.reason, c.exitCode, c.stderrTail)!;
    const result = transition(inst.state, event);
    if (!result.ok) {
      // A report the record has already moved past (delivered late, after a reconnect's
      // catch-up) is superseded, not an error.
      if (pathBetween(c.state, inst.state) !== undefined) return refuse({ kind: "SupersededReport", id: inst.id, reported: c.state, current: inst.state });
      return refuse(result.rejection);
    }
    return accept([{ type: "InstanceTransitioned", at: now, id: inst.id, event }]);
  },
};

/** Decides one command against the current state. */
export function decide(state: ClusterState, command: Command, now: number): Decision {
  return (deciders[command.type] as Decider<typeof command.type>)(state, command, now);
}
