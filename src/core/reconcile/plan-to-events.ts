/**
 * A plan as events and effects: new copies get ids (from the state's next sequence number),
 * placements become start commands, stops of placed copies become stop commands. PURE.
 */
import type { ClusterEvent } from "../events/cluster-events.js";
import { type ClusterState, instanceName, type Workload } from "../model/cluster-state.js";
import type { Effect } from "../model/effects.js";
import type { AssignedPort } from "../model/ports.js";
import type { Plan } from "./reconcile.js";
import { AUTO_PROMOTE } from "../events/event-facts.js";
import { keptSpec } from "./replacement.js";
import { stopGracePeriodOf } from "../model/spec.js";
import { runStarted } from "../events/run-started.js";

/** What a plan amounts to: the events recording it and the effects carrying it out. */
export interface PlanOutcome {
  events: ClusterEvent[];
  effects: Effect[];
}

/**
 * Turns a plan into events and effects; it changes nothing: the caller applies the events
 * (evolve) and the writer's store records them.
 */
export function planToEvents(state: ClusterState, p: Plan): PlanOutcome {
  const events: ClusterEvent[] = [];
  const effects: Effect[] = [];
  const at = p.at;
  let seq = state.nextInstanceSeq;
  /** The spec a copy of `generation` runs: a copy of the spec kept for old copies (moved while a canary holds the rollout) runs that. */
  const specOf = (workload: Workload, generation: number) => {
    const kept = generation !== workload.generation ? keptSpec(workload) : undefined;
    return kept !== undefined && kept.generation === generation && kept.template !== workload.templateGeneration ? { generation, spec: kept.spec } : { generation: workload.generation, spec: workload.spec };
  };
  const start = (id: string, node: string, workload: Workload, index: number, ports: AssignedPort[] | undefined, generation: number) =>
    effects.push({
      type: "StartInstance",
      node,
      instanceId: id,
      name: instanceName(workload.name, index),
      workload: workload.name,
      ...specOf(workload, generation),
      ports: ports ?? [],
      hostIp: state.nodes.get(node)?.ports.address ?? "",
    });
  /** The place event: `ports` only when it has any, as before ports existed (golden logs keep their shape). */
  const place = (id: string, node: string, ports: AssignedPort[] | undefined): ClusterEvent => ({
    type: "InstanceTransitioned",
    at,
    id,
    event: ports === undefined ? { type: "place", node } : { type: "place", node, ports },
  });

  for (const h of p.health) {
    events.push({ type: "NodeHealthChanged", at, name: h.node, from: h.from, to: h.to });
    if (h.to === "offline") effects.push({ type: "DisconnectNode", node: h.node });
  }
  for (const l of p.markLost) events.push({ type: "InstanceTransitioned", at, id: l.instance, event: { type: "lose" } });
  // A wave starts before the replacements it lets through.
  for (const w of p.wave) events.push({ type: "RolloutWaveStarted", at, name: w.name, wave: w.wave, waves: w.waves });
  for (const n of p.place) {
    const id = `${instanceName(n.workload, n.index)}.${seq++}`;
    events.push({ type: "InstanceCreated", at, id, workload: n.workload, index: n.index, generation: n.generation, attempt: n.attempt, resources: n.resources, readinessChecks: n.readinessChecks, reason: "" });
    events.push(place(id, n.node, n.ports));
    start(id, n.node, state.workloads.get(n.workload)!, n.index, n.ports, n.generation);
  }
  for (const n of p.pend) {
    const id = `${instanceName(n.workload, n.index)}.${seq++}`;
    events.push({ type: "InstanceCreated", at, id, workload: n.workload, index: n.index, generation: n.generation, attempt: n.attempt, resources: n.resources, readinessChecks: n.readinessChecks, reason: n.reason });
  }
  for (const w of p.waiting) events.push({ type: "InstanceWaiting", at, id: w.instance, reason: w.reason });
  for (const s of p.schedule) {
    const inst = state.instances.get(s.instance)!;
    events.push(place(s.instance, s.node, s.ports));
    start(inst.id, s.node, state.workloads.get(inst.workload)!, inst.index, s.ports, inst.generation);
  }
  for (const s of p.stop) {
    const inst = state.instances.get(s.instance)!;
    events.push({ type: "InstanceTransitioned", at, id: s.instance, event: { type: "stop", reason: s.reason } });
    if (inst.state === "pending") events.push({ type: "InstanceRemoved", at, id: s.instance });
    else if (inst.node !== null) {
      effects.push({ type: "StopInstance", node: inst.node, instanceId: inst.id, generation: inst.generation, gracePeriodMs: stopGracePeriodOf(state, inst.workload) });
    }
  }
  for (const f of p.forget) events.push({ type: "InstanceRemoved", at, id: f.instance });
  for (const r of p.removeWorkload) events.push({ type: "WorkloadRemoved", at, name: r.name });
  for (const f of p.finish) events.push({ type: "WorkloadFinished", at, name: f.name, outcome: f.outcome, reason: f.reason });
  for (const e of p.expire) events.push(e.reason === undefined ? { type: "WorkloadExpired", at, name: e.name } : { type: "WorkloadExpired", at, name: e.name, reason: e.reason });
  for (const s of p.skipRun) events.push({ type: "PeriodicRunSkipped", at, name: s.name, due: s.due, reason: s.reason });
  for (const l of p.launch) events.push(...runStarted(state.workloads.get(l.name)!, l.run, at, l.due));
  for (const c of p.complete) events.push({ type: "RolloutCompleted", at, name: c.name, generation: c.generation });
  for (const r of p.promote) events.push({ type: "RolloutPromoted", at, name: r.name, by: AUTO_PROMOTE });
  for (const h of p.held) events.push({ type: "RolloutHeld", at, name: h.name, gate: h.gate, reason: h.reason });
  for (const st of p.stalled) events.push({ type: "RolloutStalled", at, name: st.name, generation: st.generation, reason: st.reason });
  for (const r of p.revert) {
    const w = state.workloads.get(r.name)!;
    events.push({ type: "RolloutReverted", at, name: r.name, failedGeneration: w.templateGeneration, generation: w.generation + 1, reason: r.reason, to: w.stable!.generation });
  }
  return { events, effects };
}

