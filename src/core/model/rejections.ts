/**
 * Named refusals returned by the core. PURE. The shells map each kind to a wire status once
 * (src/control/grpc/rejection-codes.ts); nothing matches on message text.
 */
import type { InstanceState, InvalidTransition } from "./instance-machine.js";

export type { InvalidTransition };

export type Rejection =
  | { kind: "InvalidArgument"; field: string; expected: string }
  | { kind: "UnknownWorkload"; name: string }
  | { kind: "WorkloadDeleting"; name: string }
  /** `workload` when the request named one (Logs), for the message. */
  | { kind: "UnknownInstance"; id: string; workload?: string }
  | { kind: "WrongNode"; id: string; node: string | null; reportedBy: string }
  | { kind: "StaleGeneration"; id: string; reported: number; current: number }
  | { kind: "UnknownNode"; name: string }
  | { kind: "StaleSession"; node: string }
  | { kind: "NodeAlreadyConnected"; node: string; heardMsAgo: number }
  | { kind: "SupersededReport"; id: string; reported: InstanceState; current: InstanceState }
  | { kind: "Unauthenticated"; reason: string }
  | { kind: "NothingToUndo"; name: string }
  /** `ctl run` of a workload without spec.schedule. */
  | { kind: "NotPeriodic"; name: string }
  /** `ctl run` within the second of another run of the workload: the run's name is taken. */
  | { kind: "RunExists"; name: string; run: string }
  /** Applying exactly a spec whose rollout failed and was reverted, without force. */
  | { kind: "QuarantinedSpec"; name: string; generation: number; reason: string }
  | { kind: "NothingToPromote"; name: string; why: string }
  /** Lifting a quarantine where no failure of the workload's current spec is recorded (`node` absent: anywhere). */
  | { kind: "NotQuarantined"; name: string; node?: string }
  | { kind: "UnknownRevision"; name: string; revision: number }
  | { kind: "PermissionDenied"; reason: string }
  /** Exec needs a running copy: of the workload (no `id`), or the named one, which is in `state`. */
  | { kind: "NotRunning"; workload: string; id?: string; state?: InstanceState }
  /** Logs: a replica (web-1), or a workload's every replica, has no copy that ran and ended. */
  | { kind: "NoEndedCopy"; of: string }
  /** Logs: a replica or a copy that has printed nothing, since it has not run. */
  | { kind: "NeverRan"; instance: string }
  /** Enrolling with the join token as a node name that is enrolled already (node-identity.ts). */
  | { kind: "NodeNameTaken"; node: string }
  | { kind: "UnknownToken"; id: string }
  | { kind: "UnknownSecret"; secretKind: "secret" | "config"; name: string }
  /** Creating a secret or config whose name is taken (update it instead). */
  | { kind: "SecretExists"; secretKind: "secret" | "config"; name: string }
  /** A re-sealing (a rotation of the cluster key) that does not cover every sealed version the state holds. */
  | { kind: "SecretsChanged"; name: string; version: number }
  /** Watch or the event stream resuming after `after`: retention has dropped events after it (the log now starts at `oldest`; 0: it is empty). */
  | { kind: "EventsNotRetained"; after: number; oldest: number }
  | InvalidTransition;

/** One line for humans and logs. */
export function describeRejection(r: Rejection): string {
  switch (r.kind) {
    case "InvalidArgument":
      return `${r.field}: expected ${r.expected}`;
    case "UnknownWorkload":
      return `workload "${r.name}" not found`;
    case "WorkloadDeleting":
      return `workload "${r.name}" is being deleted; apply it again once it is gone`;
    case "UnknownInstance":
      return r.workload === undefined ? `instance "${r.id}" not found` : `instance "${r.id}" of workload "${r.workload}" not found`;
    case "WrongNode":
      return `instance "${r.id}" is placed on ${r.node ?? "no node"}, not on ${r.reportedBy}`;
    case "StaleGeneration":
      return `report for instance "${r.id}" carries generation ${r.reported}, older than ${r.current}`;
    case "UnknownNode":
      return `node "${r.name}" not found`;
    case "EventsNotRetained":
      return r.oldest > 0
        ? `after_sequence ${r.after}: the events after it are no longer retained (the oldest is ${r.oldest}); read the state again and resume after ${r.oldest - 1} (from=${r.oldest} on the HTTP event stream)`
        : `after_sequence ${r.after}: the events after it are no longer retained (the log is empty); read the state again and follow from 0`;
    case "NotPeriodic":
      return `workload "${r.name}" has no schedule: only a periodic batch (spec.schedule) starts runs`;
    case "RunExists":
      return `workload "${r.run}" exists already: ${r.name} starts at most one run a second`;
    case "NothingToUndo":
      return `workload "${r.name}" has no earlier spec to go back to`;
    case "QuarantinedSpec":
      return `workload "${r.name}": this spec's rollout (generation ${r.generation}) failed and was reverted: ${r.reason}; apply it with --force to roll it out again`;
    case "UnknownRevision":
      return `workload "${r.name}" has no revision ${r.revision} in the event log (see tessera ctl rollout history)`;
    case "NothingToPromote":
      return `workload "${r.name}" has nothing to promote: ${r.why}`;
    case "NotQuarantined":
      return `workload "${r.name}" has no crash-loop quarantine to lift${r.node === undefined ? "" : ` on ${r.node}`}: no failure of its current spec is recorded ${r.node === undefined ? "on any node" : "there"}`;
    case "Unauthenticated":
    case "PermissionDenied":
      return r.reason;
    case "SupersededReport":
      return `report that instance "${r.id}" is ${r.reported} is superseded: it is already ${r.current}`;
    case "NodeAlreadyConnected":
      return `node "${r.node}" already has a live agent stream (heard ${r.heardMsAgo} ms ago); is another agent running with this name? It is refused until that stream goes quiet`;
    case "StaleSession":
      return `node "${r.node}": this agent stream is no longer current (replaced, or the node was declared Offline); reconnect`;
    case "NotRunning":
      return r.id === undefined ? `workload "${r.workload}" has no running copy` : `instance "${r.id}" is ${r.state}, not running`;
    case "NoEndedCopy":
      return `${r.of} has no ended copy`;
    case "NeverRan":
      return `${r.instance} has no output: it has not run`;
    case "NodeNameTaken":
      return `node ${r.node} is enrolled already: its agent renews with its own certificate; to enroll it again (a new machine or data dir), an admin runs tessera ctl node approve ${r.node}`;
    case "UnknownToken":
      return `token ${r.id} not found (tessera ctl token list shows the active ones)`;
    case "UnknownSecret":
      return `${r.secretKind} "${r.name}" not found (tessera ctl get ${r.secretKind}s lists them)`;
    case "SecretExists":
      return `${r.secretKind} "${r.name}" exists already: change it with tessera ctl ${r.secretKind} update ${r.name}`;
    case "SecretsChanged":
      return `secret "${r.name}" version ${r.version} changed while the cluster key was rotated, or was not re-sealed: rotate again`;
    case "InvalidTransition":
      return `invalid transition: cannot ${r.event} an instance that is ${r.from}`;
  }
}

/** A field of a request that is not what was expected: which field, and what it should be (with what it was). */
export function invalidArgument(field: string, expected: string): Rejection {
  return { kind: "InvalidArgument", field, expected };
}
