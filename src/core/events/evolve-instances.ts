/**
 * How events change a workload's copies: created, waiting for a node, moved through the
 * instance machine, a readiness check's verdict, removed. PURE, in place (see evolve.ts).
 * A copy's failure also counts toward its batch's backoff and its crash-loop quarantine.
 */
import { heldNode, runsCurrentTemplate } from "../model/cluster-status.js";
import { checkFailureReason, type ClusterState, type Instance, instanceName, instanceSeq, isCheckFailure } from "../model/cluster-state.js";
import { transition } from "../model/instance-machine.js";
import { noneYet } from "../model/shared-empties.js";
import { kindOf } from "../model/spec.js";
import { dropInstance, type Evolvers, moveLoad, must, placeOn, putInstance, recordCrash } from "./state-edits.js";

export const instanceEvolvers = {
  InstanceCreated(state, e) {
    state.nextInstanceSeq = Math.max(state.nextInstanceSeq, instanceSeq(e.id) + 1);
    putInstance(state, {
      id: e.id,
      name: instanceName(e.workload, e.index),
      workload: e.workload,
      index: e.index,
      generation: e.generation,
      node: null,
      desired: "run",
      state: "pending",
      attempt: e.attempt,
      resources: e.resources,
      readinessChecks: e.readinessChecks?.length ? e.readinessChecks : noneYet(),
      passing: noneYet(),
      ports: noneYet(),
      reason: e.reason,
      exitCode: null,
      stderrTail: "",
      failedAt: null,
      runningSince: null,
      readySince: null,
      updatedAt: e.at,
    });
  },
  InstanceTransitioned(state, e) {
    const inst = must(state.instances, e.id, "instance");
    const held = heldNode(inst);
    const result = transition(inst.state, e.event);
    if (!result.ok) throw new Error(`event log is inconsistent: ${inst.id} cannot ${e.event.type} from ${inst.state}`);
    // A run of a batch that failed (not a copy failing to stop) counts toward its backoff limit.
    if (e.event.type === "fail" && inst.state !== "stopping") countBatchFailure(state, inst.workload);
    inst.state = result.state;
    inst.updatedAt = e.at;
    // Checks speak for a running copy only; a new run starts without verdicts. A Lost copy
    // keeps its last verdicts: if its node returns and it is reclaimed, they still hold (the
    // agent's reports of any change while away follow its hello).
    if ((inst.state !== "running" && inst.state !== "lost") || e.event.type === "run") {
      inst.passing = noneYet();
      // Nor does a check's failure say any more why it is not Ready.
      if (isCheckFailure(inst.reason)) inst.reason = "";
    }
    switch (e.event.type) {
      case "place":
        placeOn(state, inst, e.event.node);
        inst.ports = e.event.ports?.length ? e.event.ports : noneYet();
        inst.reason = "";
        break;
      case "fail":
        inst.reason = e.event.reason;
        inst.exitCode = e.event.exitCode ?? null;
        inst.stderrTail = e.event.stderrTail ?? "";
        inst.failedAt = e.at;
        if (inst.node !== null && countsForQuarantine(state, inst)) recordCrash(state, inst.workload, inst.node, e.at);
        break;
      case "run":
        inst.runningSince = e.at;
        break;
      case "lose":
        inst.desired = "stop";
        inst.reason = `node ${inst.node} went offline`;
        break;
      case "reclaim":
        inst.desired = "run";
        inst.reason = "";
        break;
      case "stop":
        inst.desired = "stop";
        if (inst.reason === "") inst.reason = e.event.reason;
        break;
      case "finish":
        if (e.event.exitCode !== undefined) inst.exitCode = e.event.exitCode;
        break;
    }
    trackReady(inst, e.at);
    moveLoad(state, inst, held, heldNode(inst));
  },
  InstanceWaiting(state, e) {
    must(state.instances, e.id, "instance").reason = e.reason;
  },
  InstanceCheckReported(state, e) {
    const inst = must(state.instances, e.id, "instance");
    const others = inst.passing.filter((c) => c !== e.check);
    inst.passing = e.passing ? [...others, e.check].sort() : others;
    if (!e.passing && e.detail !== undefined) inst.reason = checkFailureReason(e.check, e.detail);
    else if (e.passing && isCheckFailure(inst.reason, e.check)) inst.reason = "";
    trackReady(inst, e.at);
  },
  InstanceRemoved(state, e) {
    dropInstance(state, must(state.instances, e.id, "instance"));
  },
  // A record for the audit trail: running a command changes nothing the control plane holds.
  InstanceExecStarted() {},
} satisfies Partial<Evolvers>;

/**
 * Keeps `readySince`: set when the copy becomes Ready (running, every readiness check passing),
 * cleared when it stops being so. A Lost copy keeps it, as it keeps its verdicts: reclaimed, it
 * is as Ready as it was.
 */
function trackReady(inst: Instance, at: number): void {
  const ready = inst.state === "running" && inst.readinessChecks.every((c) => inst.passing.includes(c));
  if (ready) inst.readySince ??= at;
  else if (inst.state !== "lost") inst.readySince = null;
}

function countBatchFailure(state: ClusterState, name: string): void {
  const w = state.workloads.get(name);
  if (w !== undefined && kindOf(w.spec) === "batch") w.failures++;
}

/** Whether a copy's failure is its workload's current template's (an older spec's quarantine holds no changed one). */
function countsForQuarantine(state: ClusterState, inst: Instance): boolean {
  const w = state.workloads.get(inst.workload);
  return w !== undefined && runsCurrentTemplate(w, inst);
}
