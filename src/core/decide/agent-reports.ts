/**
 * Deciding what agents report of their copies: a copy's state (started, running, exited,
 * failed) and a readiness check's verdict. PURE.
 */
import { boundStderrTail } from "../output/stderr-tail.js";
import type { Effect } from "../model/effects.js";
import { type InstanceEvent, type InstanceEventType, type InstanceState, pathBetween, REPORTED_EVENTS, transition } from "../model/instance-machine.js";
import { checkFailureReason, type ClusterState, type Instance, workloadOfInstanceId } from "../model/cluster-state.js";
import { kindOf, stopGracePeriodOf } from "../model/spec.js";
import { accept, type Deciders, refuse } from "./decision.js";

/** The instance event an agent's word leads to (a report, or a hello's catch-up); undefined for those only the control plane decides. */
/**
 * Text an agent reported, as the log and the store keep it: a NUL (a program's stderr may hold
 * one) becomes U+FFFD. PostgreSQL refuses NUL in text, and a turn it refuses takes no change
 * until the store writes again: one copy's output must not stop the control plane.
 */
function recordable(text: string): string {
  return text.includes("\0") ? text.replaceAll("\0", "\uFFFD") : text;
}

export function instanceEventFor(type: InstanceEventType, reported: string, exitCode?: number, stderrTail?: string): InstanceEvent | undefined {
  const reason = recordable(reported);
  switch (type) {
    case "provision":
    case "run":
      return { type };
    case "fail": {
      // Whatever size the agent sent, the event log keeps a bounded tail; none, no key.
      const tail = boundStderrTail(recordable(stderrTail ?? ""));
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
export function succeeds(state: ClusterState, inst: Instance, reported: InstanceState, exitCode: number | undefined): boolean {
  if (reported !== "failed" || exitCode !== 0 || inst.desired !== "run") return false;
  const w = state.workloads.get(inst.workload);
  return w !== undefined && kindOf(w.spec) === "batch";
}

/** Tells a copy's agent to let go of it (it stops what still runs, forgets what ended). */
function release(state: ClusterState, inst: Instance): Effect {
  return { type: "StopInstance", node: inst.node!, instanceId: inst.id, generation: inst.generation, gracePeriodMs: stopGracePeriodOf(state, inst.workload) };
}

/** How much of a failing check's detail is kept: a line for people (an agent's probe says a few words). */
const CHECK_DETAIL_CHARS = 300;

export const agentReportDeciders = {
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

  ReportCheck(state, c, now) {
    const inst = state.instances.get(c.instanceId);
    if (!inst) return refuse({ kind: "UnknownInstance", id: c.instanceId });
    if (inst.node !== c.node) return refuse({ kind: "WrongNode", id: inst.id, node: inst.node, reportedBy: c.node });
    if (c.generation < inst.generation) return refuse({ kind: "StaleGeneration", id: inst.id, reported: c.generation, current: inst.generation });
    if (!inst.readinessChecks.includes(c.check)) return refuse({ kind: "InvalidArgument", field: "check.check", expected: `one of the readiness checks of ${inst.id} (${inst.readinessChecks.join(", ") || "none"})` });
    // A verdict about a copy that no longer runs arrived late: nothing to record.
    if (inst.state !== "running") return refuse({ kind: "SupersededReport", id: inst.id, reported: "running", current: inst.state });
    // A failing check is recorded with why, and again when why changes: it is the copy's reason.
    const detail = c.passing || !c.detail ? undefined : recordable(c.detail.slice(0, CHECK_DETAIL_CHARS));
    if (inst.passing.includes(c.check) === c.passing && (detail === undefined || inst.reason === checkFailureReason(c.check, detail))) return accept();
    return accept([{ type: "InstanceCheckReported", at: now, id: inst.id, check: c.check, passing: c.passing, ...(detail === undefined ? {} : { detail }) }]);
  },
} satisfies Partial<Deciders>;
