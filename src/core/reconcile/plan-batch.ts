/**
 * A batch workload, planned by index: index 0..completions-1 each runs until one copy of it
 * succeeds (exits 0), at most `parallelism` at once. A failed run is retried after the restart
 * backoff; once the failures exceed backoff_limit the workload is Failed, and once every index
 * succeeded it is Complete. A finished workload runs nothing more and is deleted after
 * ttl_after_finished. A run on a draining node is stopped and its index runs again elsewhere. PURE.
 */
import { type Hold, parallelismGate, restartGate, ttlGate } from "./gates.js";
import { type Instance, instanceName, type Workload } from "../model/cluster-state.js";
import type { ResolvedSpec } from "../model/spec.js";
import { reasonWithStderr } from "../output/stderr-tail.js";
import { bySlot, dueForReplacement, newestCurrentFailure, newestFailure, onDrainingNode, splitFailed } from "./copies.js";
import { freshCopy, type Pass, placed, waitPending, type WorkloadView } from "./pass.js";
import type { Plan, Skip } from "./reconcile.js";

/** One batch workload's planning over its indexes. */
interface IndexPlan {
  out: Plan;
  pass: Pass;
  workload: Workload;
  spec: ResolvedSpec;
  v: WorkloadView;
  succeeded: ReadonlySet<number>;
  /** The runs this planning replaces: outdated, or on a draining node (not a failure). */
  isOutdated: (i: Instance) => boolean;
  /** Indexes running now, counted against parallelism. */
  active: number;
  /** The parallelism hold is recorded once a pass. */
  parallelismHeld: boolean;
}

export function planBatch(out: Plan, pass: Pass, workload: Workload, spec: ResolvedSpec, v: WorkloadView): void {
  if (workload.finished !== null) return planFinished(out, pass, workload, spec, v.running);
  const completions = spec.replicas;
  const succeeded = v.succeeded ?? new Set<number>();
  if (finishes(out, workload, spec, v.running, succeeded)) return;
  const slots = bySlot(v.running, completions, (i) => stop(out, i, `completions lowered to ${completions}`));
  let active = 0;
  for (const [index, slot] of slots) if (!succeeded.has(index) && slot.some((i) => i.state !== "failed")) active++;
  const p: IndexPlan = { out, pass, workload, spec, v, succeeded, isOutdated: dueForReplacement(workload, pass.draining), active, parallelismHeld: false };
  for (let index = 0; index < completions; index++) planIndex(p, index, slots.get(index) ?? []);
}

function stop(out: Plan, i: Instance, reason: string): void {
  out.stop.push({ instance: i.id, reason });
}

function hold(out: Plan, workload: Workload, h: Hold | Skip, instance?: string): void {
  out.skip.push({ workload: workload.name, instance, ...h });
}

/** A finished batch: its runs stop, and once ttl_after_finished passed it expires. */
function planFinished(out: Plan, pass: Pass, workload: Workload, spec: ResolvedSpec, insts: Instance[]): void {
  const finished = workload.finished!;
  for (const inst of insts) stop(out, inst, inst.state === "failed" ? inst.reason : `${workload.name} is ${finished.outcome}`);
  if (spec.ttlAfterFinishedMs === undefined) return;
  const held = ttlGate(finished, spec, pass.now);
  if (held) hold(out, workload, held);
  else out.expire.push({ name: workload.name });
}

/** Whether the batch finishes now: every index succeeded (Complete), or its failures passed backoff_limit (Failed). */
function finishes(out: Plan, workload: Workload, spec: ResolvedSpec, insts: Instance[], succeeded: ReadonlySet<number>): boolean {
  const completions = spec.replicas;
  let done = 0;
  for (const index of succeeded) if (index < completions) done++;
  if (done >= completions) {
    out.finish.push({ name: workload.name, outcome: "complete", reason: `${done} of ${completions} succeeded` });
    return true;
  }
  if (workload.failures > spec.backoffLimit) {
    const last = newestFailure(insts);
    out.finish.push({ name: workload.name, outcome: "failed", reason: `backoff limit ${spec.backoffLimit} reached (${workload.failures} failed runs)${last ? `: ${reasonWithStderr(last.reason, last.stderrTail)}` : ""}` });
    return true;
  }
  return false;
}

/** One index: done, running (scheduled if Pending), or run again within parallelism and the restart backoff. */
function planIndex(p: IndexPlan, index: number, slot: Instance[]): void {
  const { out, pass, workload, spec, isOutdated } = p;
  if (p.succeeded.has(index)) {
    for (const i of slot) stop(out, i, i.state === "failed" ? i.reason : `${instanceName(workload.name, index)} already succeeded`);
    return;
  }
  const { failed, live } = splitFailed(slot);
  for (const o of live.filter(isOutdated)) stop(out, o, onDrainingNode(pass.draining, o) ? `node ${o.node} draining: this index runs again elsewhere` : `update: generation ${workload.generation} runs this index again`);
  const current = live.filter((i) => !isOutdated(i));
  if (current.length > 0) {
    const keep = current[0]!;
    for (const dup of current.slice(1)) stop(out, dup, `duplicate of ${keep.id}`);
    for (const f of failed) stop(out, f, f.reason);
    if (keep.state === "pending") {
      const choice = pass.placer.choose(workload.name, spec, keep.name);
      if ("node" in choice) out.schedule.push({ instance: keep.id, ...placed(choice) });
      else waitPending(out, keep, choice.reason);
    }
    return;
  }
  // An outdated run still stopping holds its index (and counts as running) until it is gone.
  if (live.length > 0) return;
  const refused = parallelismGate(p.active, spec);
  if (refused) {
    if (!p.parallelismHeld) hold(out, workload, refused);
    p.parallelismHeld = true;
    return;
  }
  const lastFailure = newestCurrentFailure(workload, failed);
  if (lastFailure !== undefined) {
    const held = restartGate(lastFailure, spec, pass.now);
    if (held) {
      hold(out, workload, held, lastFailure.id);
      return;
    }
  }
  const n = freshCopy(workload, spec, index, lastFailure === undefined ? 0 : lastFailure.attempt + 1, lastFailure !== undefined ? "restart" : p.v.lostSlots?.has(index) ? "lost" : "new");
  const choice = pass.placer.choose(workload.name, spec, instanceName(workload.name, index));
  if ("node" in choice) out.place.push({ ...n, ...placed(choice) });
  else out.pend.push({ ...n, reason: choice.reason });
  for (const f of failed) stop(out, f, f.reason);
  p.active++;
}
