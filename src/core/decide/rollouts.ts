/**
 * Deciding what is asked of a workload's rollout: promote it past its canaries, pause or
 * resume it, lift a crash-loop quarantine, undo it (`rollout undo`). PURE.
 */
import { instancesOfWorkload } from "../model/cluster-state.js";
import { waitingCanaries } from "../model/cluster-status.js";
import { resolveSpec } from "../model/spec.js";
import { validateName } from "../model/validate.js";
import { accept, type Deciders, refuse } from "./decision.js";
import { applyWorkload } from "./workloads.js";

export const rolloutDeciders = {
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

  RollbackWorkload(state, c, now) {
    const nameProblem = validateName(c.name);
    if (nameProblem) return refuse(nameProblem);
    const w = state.workloads.get(c.name);
    if (!w) return refuse({ kind: "UnknownWorkload", name: c.name });
    if (!c.to && !w.previousSpec) return refuse({ kind: "NothingToUndo", name: c.name });
    const d = applyWorkload(state, { type: "ApplyWorkload", name: c.name, labels: w.labels, spec: c.to?.spec ?? w.previousSpec! }, now, "recorded");
    // Recorded as an undo, so that `rollout history` says so.
    const undo = c.to ? { to: c.to.revision } : {};
    return { ...d, events: d.events.map((e) => (e.type === "WorkloadApplied" ? { ...e, undo } : e)) };
  },
} satisfies Partial<Deciders>;
