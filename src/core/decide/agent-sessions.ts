/**
 * Deciding an agent's session: its hello (the record caught up with what the agent holds),
 * its heartbeats, its stream closing; and the control plane starting to listen to agents. PURE.
 */
import type { Effect } from "../model/effects.js";
import type { Rejection } from "../model/rejections.js";
import { type InstanceState, pathBetween } from "../model/instance-machine.js";
import { type ClusterState, type Instance, inCreationOrder, instancesOfWorkload, workloadOfInstanceId } from "../model/cluster-state.js";
import type { ClusterEvent } from "../events/cluster-events.js";
import { desiredCopies, succeededIndexes } from "../model/cluster-status.js";
import { resolveSpec, stopGracePeriodOf } from "../model/spec.js";
import { isOutdated } from "../reconcile/copies.js";
import { refreshOf } from "../model/secret-use.js";
import { accept, type Deciders, refuse } from "./decision.js";
import { instanceEventFor, succeeds } from "./agent-reports.js";

/** Why a heartbeat of `beat.session` is not taken, or undefined. */
function heartbeatRefusal(state: ClusterState, beat: { node: string; session: number }): Rejection | undefined {
  const node = state.nodes.get(beat.node);
  if (!node) return { kind: "UnknownNode", name: beat.node };
  // An Offline node's instances were given up; it comes back only through a new hello,
  // which reconciles what it still runs.
  if (node.session !== beat.session || node.health === "offline") return { kind: "StaleSession", node: beat.node };
  return undefined;
}

/** Two nodes or more, and every one Offline: the control plane heard none of them. */
function fleetWentSilent(state: ClusterState): boolean {
  if (state.nodes.size < 2) return false;
  for (const node of state.nodes.values()) if (node.health !== "offline") return false;
  return true;
}

/**
 * Whether a Lost copy whose node came back running it is still wanted: its workload still
 * wants its slot, and no other copy of that slot runs (a replacement that is only Pending,
 * Scheduled or Provisioning is cancelled in its favour, as Nomad's disconnect reconcile does).
 */
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

export const agentSessionDeciders = {
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

    // Catch the record up with what the agent holds; resend what it never received. The node's
    // own copies (its index), in the order they were created, as a walk over every copy meets them.
    for (const id of inCreationOrder(state.instancesByNode.get(c.node) ?? [])) {
      const inst = state.instances.get(id)!;
      if (inst.state === "stopped" || inst.state === "pending") continue;
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
    // Refreshes sent while the stream was down were lost: the versions each running copy should hold, again.
    for (const h of c.instances) {
      const inst = state.instances.get(h.id);
      const w = inst && state.workloads.get(inst.workload);
      const refresh = h.state === "running" && inst?.node === c.node && inst.desired === "run" && w && !w.deleting ? refreshOf({ id: h.id, node: c.node }, w.spec, w.generation) : undefined;
      if (refresh) effects.push(refresh);
    }
    // Whatever the agent holds that the control plane does not want is stopped.
    for (const h of held.values()) {
      if (h.state !== "stopped") stop(h.id, h.generation);
    }
    return accept(events, effects);
  },

  AgentDisconnected(state, c, now) {
    const node = state.nodes.get(c.node);
    if (!node || node.session !== c.session || !node.connected) return accept();
    return accept([{ type: "NodeDisconnected", at: now, name: c.node }]);
  },

  Heartbeat(state, c, now) {
    const refusal = heartbeatRefusal(state, c);
    return refusal ? refuse(refusal) : accept([{ type: "NodeHeartbeatReceived", at: now, name: c.node }]);
  },

  // Each beat as a Heartbeat alone; a refused one (its stream replaced or given up since the
  // window opened) is dropped: it only says that stream was alive, and another holds the node.
  Heartbeats(state, c, now) {
    return accept(c.beats.filter((b) => heartbeatRefusal(state, b) === undefined).map((b) => ({ type: "NodeHeartbeatReceived", at: now, name: b.node })));
  },

  StartListening(_state, c, now) {
    return accept([{ type: "ListeningStarted", at: now, cause: c.cause }]);
  },
} satisfies Partial<Deciders>;
