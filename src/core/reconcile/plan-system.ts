/**
 * A system workload, planned by node: one copy on every node that qualifies
 * (qualifiesForSystem) and has room for it, none elsewhere. A copy stays with its node: when
 * the node goes Offline it is Lost with it, never replaced on another. On a draining node its
 * copy is stopped last, once no other workload's copy holds the node; on a cordoned one it keeps
 * running. A changed template is rolled node by node: the old copy is stopped under the
 * disruption budget (of the nodes that qualify) and the node then gets a new one. PURE.
 */
import { disruptionGate, type Hold, restartGate } from "./gates.js";
import { type Instance, instanceName, instancesOfWorkload, type Workload } from "../model/cluster-state.js";
import { holdsNode, isReady, qualifiesForSystem } from "../model/cluster-status.js";
import { type ResolvedSpec, resolveSpec } from "../model/spec.js";
import { byNode, isOutdated, newestCurrentFailure, nextAttempt, replacementCause, splitFailed } from "./copies.js";
import { freshCopy, type Pass, placed } from "./pass.js";
import type { PlaceCause, Plan, Skip } from "./reconcile.js";

/** One system workload's planning over the nodes that qualify. */
interface NodePlan {
  out: Plan;
  pass: Pass;
  workload: Workload;
  spec: ResolvedSpec;
  /** The disruption budget: the spec's, over the nodes that qualify. */
  budget: ResolvedSpec;
  /** Nodes whose copy is Ready, taken down by each stop the budget allows. */
  available: number;
  /** Nodes whose old copy is still stopping, and that copy. */
  stopping: Map<string, string>;
  /** Indexes the workload's copies hold, and the lowest one a new copy may take. */
  used: Set<number>;
  nextIndex: number;
}

export function planSystem(out: Plan, pass: Pass, workload: Workload, spec: ResolvedSpec, insts: Instance[]): void {
  const { state, health } = pass;
  const nodes = byNode(insts, (i) => out.stop.push({ instance: i.id, reason: "a system workload's copy belongs to a node" }));
  const qualifying = [...state.nodes.values()].filter((n) => qualifiesForSystem(n, health.get(n.name), spec)).map((n) => n.name).sort();
  const wanted = new Set(qualifying);
  for (const [node, copies] of nodes) if (!wanted.has(node)) leaveNode(out, pass, workload, node, copies);
  // A node whose old copy is still stopping gets its new one after: never two on a node.
  const stopping = new Map<string, string>();
  for (const i of instancesOfWorkload(state, workload.name)) if (i.desired === "stop" && i.node !== null && holdsNode(i)) stopping.set(i.node, i.id);
  const p: NodePlan = {
    out,
    pass,
    workload,
    spec,
    budget: { ...spec, replicas: qualifying.length },
    // The disruption budget counts the nodes that qualify, each available while its copy is Ready.
    available: qualifying.filter((n) => nodes.get(n)?.some(isReady) === true).length,
    stopping,
    used: new Set(instancesOfWorkload(state, workload.name).map((i) => i.index)),
    nextIndex: 0,
  };
  for (const node of qualifying) planNode(p, node, nodes.get(node) ?? []);
}

function stop(out: Plan, i: Instance, reason: string): void {
  out.stop.push({ instance: i.id, reason });
}

function hold(p: NodePlan, h: Hold | Skip, instance: string | undefined, node: string): void {
  p.out.skip.push({ workload: p.workload.name, instance, node, ...h });
}

/**
 * Copies on a node that no longer wants one. What runs on a node not heard lately (late
 * heartbeats, a control plane just restarted) or cordoned (which only keeps new work away)
 * stays; on a draining node it goes last; where the node no longer matches, it goes.
 */
function leaveNode(out: Plan, pass: Pass, workload: Workload, node: string, copies: Instance[]): void {
  const record = pass.state.nodes.get(node);
  if (record === undefined || !record.connected || pass.health.get(node) !== "ready") return;
  if (record.draining) {
    if (onlySystemCopiesOn(pass, node)) for (const c of copies) stop(out, c, "node drained");
    else for (const c of copies) out.skip.push({ workload: workload.name, instance: c.id, node, gate: "cordon", reason: "draining: a system copy is stopped once the node's other copies are gone" });
    return;
  }
  if (!record.schedulable) {
    // Cordoned: one copy stays as it is (the current one, if there is one).
    const keep = copies.find((c) => c.state !== "failed" && !isOutdated(workload, c)) ?? copies.find((c) => c.state !== "failed");
    for (const c of copies) if (c !== keep) stop(out, c, c.state === "failed" ? c.reason : `duplicate of ${keep!.id}`);
    return;
  }
  for (const c of copies) stop(out, c, `node ${node} no longer qualifies (node_selector, executor)`);
}

/** One node that qualifies: its current copy stays, an old one is replaced, or a new one is placed. */
function planNode(p: NodePlan, node: string, copies: Instance[]): void {
  const { out, workload } = p;
  const { failed, live } = splitFailed(copies);
  const current = live.filter((i) => !isOutdated(workload, i));
  const outdated = live.filter((i) => isOutdated(workload, i));
  if (current.length > 0) {
    for (const dup of current.slice(1)) stop(out, dup, `duplicate of ${current[0]!.id}`);
    for (const o of outdated) stop(out, o, `replaced by ${current[0]!.id}`);
    for (const f of failed) stop(out, f, f.reason);
    return;
  }
  if (outdated.length > 0) {
    const [old, ...extra] = outdated;
    for (const o of extra) stop(out, o, "duplicate");
    for (const f of failed) stop(out, f, f.reason);
    // Outdated, so an update or a restart's rollout (never a drain: a drained node is not one that qualifies).
    const cause = replacementCause(workload, old!);
    if (isReady(old!)) {
      const refused = disruptionGate(p.available, p.budget);
      if (refused) {
        hold(p, refused, old!.id, node);
        return;
      }
      p.available--;
    }
    stop(out, old!, `${cause}: making room for generation ${workload.generation}`);
    return;
  }
  const leaving = p.stopping.get(node);
  if (leaving !== undefined) {
    hold(p, { gate: "surge", reason: `a system workload has one copy a node: waiting for ${leaving} to stop` }, undefined, node);
    return;
  }
  placeOnNode(p, node, failed);
}

/** A new copy for the node, after the restart backoff of its newest failure there. */
function placeOnNode(p: NodePlan, node: string, failed: Instance[]): void {
  const { out, workload, spec } = p;
  const lastFailure = newestCurrentFailure(workload, failed);
  let attempt = 0;
  let cause: PlaceCause = "new";
  if (lastFailure !== undefined) {
    const held = restartGate(lastFailure, spec, p.pass.now);
    if (held) {
      hold(p, held, lastFailure.id, node);
      return;
    }
    attempt = nextAttempt(lastFailure, spec);
    cause = "restart";
  }
  const index = lastFailure?.index ?? newIndex(p);
  const choice = p.pass.placer.chooseOn(node, workload.name, spec, instanceName(workload.name, index));
  if (!("node" in choice)) {
    if (lastFailure === undefined) p.used.delete(index);
    hold(p, { gate: "unplaceable", reason: choice.reason }, undefined, node);
    return;
  }
  out.place.push({ ...freshCopy(workload, spec, index, attempt, cause), ...placed(choice) });
  for (const f of failed) stop(out, f, f.reason);
}

/** The lowest index no copy of the workload holds, taken. */
function newIndex(p: NodePlan): number {
  while (p.used.has(p.nextIndex)) p.nextIndex++;
  p.used.add(p.nextIndex);
  return p.nextIndex;
}

/** Whether every copy still holding a draining node is a system workload's (made once per pass). */
function onlySystemCopiesOn(pass: Pass, node: string): boolean {
  if (pass.systemOnly === undefined) {
    const blocked = new Set<string>();
    for (const inst of pass.state.instances.values()) {
      if (inst.node === null || !pass.draining.has(inst.node) || !holdsNode(inst)) continue;
      const w = pass.state.workloads.get(inst.workload);
      if (w === undefined || resolveSpec(w.spec).kind !== "system") blocked.add(inst.node);
    }
    pass.systemOnly = new Set([...pass.draining].filter((n) => !blocked.has(n)));
  }
  return pass.systemOnly.has(node);
}
