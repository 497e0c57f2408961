/**
 * What still holds a draining node, and why it cannot move yet, from what the control plane
 * reports: each copy's replacement and its state (a Pending one says why no node fits), or,
 * without one, what holds its workload (its rollout line). What `drain` says when its wait
 * runs out; the drain itself goes on.
 */
import type { GetWorkloadResponse } from "../../src/gen/tessera/v1/control_plane.js";
import { DesiredState, type Instance, InstanceState, WorkloadKind } from "../../src/gen/tessera/v1/types.js";
import { formatInstanceState } from "./render.js";

/** Copies that still hold the node: wanted there, or not yet stopped. */
export function holdingNode(instances: Instance[]): Instance[] {
  return instances.filter((i) => i.desiredState === DesiredState.DESIRED_STATE_RUN || i.observedState === InstanceState.INSTANCE_STATE_STOPPING);
}

const ENDED = new Set([InstanceState.INSTANCE_STATE_STOPPED, InstanceState.INSTANCE_STATE_FAILED, InstanceState.INSTANCE_STATE_SUCCEEDED, InstanceState.INSTANCE_STATE_LOST]);

/** The newest copy of the same replica, wanted, elsewhere: what the drain moves `held` to. */
function replacementOf(held: Instance, node: string, copies: Instance[]): Instance | undefined {
  const newer = copies.filter((c) => c.name === held.name && c.id !== held.id && c.node !== node && c.desiredState === DesiredState.DESIRED_STATE_RUN && !ENDED.has(c.observedState));
  return newer.sort((a, b) => seqOf(b.id) - seqOf(a.id))[0];
}

const seqOf = (id: string) => Number(id.slice(id.lastIndexOf(".") + 1));

/** One line per copy holding `node`: what it waits for. `workloads`: GetWorkload of each copy's workload. */
export function describeDrainHolds(node: string, held: Instance[], workloads: ReadonlyMap<string, GetWorkloadResponse>): string[] {
  return held.map((h) => {
    const copy = `${h.id} (${formatInstanceState(h.observedState)})`;
    if (h.desiredState !== DesiredState.DESIRED_STATE_RUN) return `${copy}: stopping${h.reason ? ` (${h.reason})` : ""}`;
    const res = workloads.get(h.workload);
    const r = res && replacementOf(h, node, res.instances);
    if (r) {
      const state = formatInstanceState(r.observedState);
      if (r.observedState === InstanceState.INSTANCE_STATE_PENDING) return `${copy}: its replacement ${r.id} is Pending: ${r.reason || "not placed yet"}`;
      const where = `its replacement ${r.id} on ${r.node}`;
      if (r.observedState !== InstanceState.INSTANCE_STATE_RUNNING) return `${copy}: ${where} is ${state}`;
      return `${copy}: ${where} is ${r.ready ? `Ready; ${h.id} stops once its workload's disruption budget allows` : "Running, not Ready yet (readiness checks not passing)"}`;
    }
    if (res?.workload?.spec?.kind === WorkloadKind.WORKLOAD_KIND_SYSTEM) return `${copy}: a system workload's copy, stopped once the node's other copies are gone`;
    const rollout = res?.workload?.status?.rollout;
    return `${copy}: no replacement yet${rollout ? ` (${h.workload}: ${rollout})` : ""}`;
  });
}
