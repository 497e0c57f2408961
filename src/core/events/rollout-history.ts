/**
 * A workload's rollouts from its event log, as `rollout history` lists them, and the spec of
 * each revision, as `rollout undo --to-revision` brings it back. PURE.
 *
 * Both read one incarnation of a name: a delete ends a workload, and a workload applied again
 * under the same name is a new one (its generations start over at 1), with revisions of its
 * own. The log is indexed by name, so the fold starts over at each creation.
 */
import type { WorkloadSpec } from "../../gen/tessera/v1/types.js";
import type { ClusterEvent, ClusterEventType } from "./cluster-events.js";

export interface Revision {
  /** The generation it was applied (or reverted, or restarted) at: what `rollout undo --to-revision` names. */
  revision: number;
  at: number;
  /** What started it: "applied", "undo to revision N", "restart", or "revert to generation N". */
  cause: string;
  /**
   * "complete", "reverted: <why>", "superseded", "stalled: <why>" (still trying), "deleted" or
   * "in progress"; a restart's is "requested" (the log records the request, not when its last
   * copy was replaced).
   */
  outcome: string;
}

/** The event types a workload's revisions are read from: what a store reads for `rollout undo --to-revision`. */
export const REVISION_EVENTS = [
  "WorkloadApplied",
  "WorkloadRestartRequested",
  "WorkloadDeleteRequested",
  "WorkloadExpired",
  "WorkloadRemoved",
  "RolloutCompleted",
  "RolloutReverted",
] as const satisfies readonly ClusterEventType[];

interface Incarnation {
  revisions: Revision[];
  /** The spec the workload had at each generation (what undo brings back). */
  specs: Map<number, WorkloadSpec>;
}

/** The revisions of one workload's events (its last incarnation), oldest first. Events of other workloads are ignored by the caller. */
export function rolloutRevisions(events: ClusterEvent[]): Revision[] {
  return lastIncarnation(events).revisions;
}

/**
 * The spec of revision `revision` of the workload's last incarnation in `events` (of that
 * workload, oldest first), while the log retains it: the one applied at that generation, or
 * for a revert the completed spec it went back to. Undefined otherwise.
 */
export function specAtRevision(events: ClusterEvent[], revision: number): WorkloadSpec | undefined {
  return lastIncarnation(events).specs.get(revision);
}

function lastIncarnation(events: ClusterEvent[]): Incarnation {
  let out: Incarnation = { revisions: [], specs: new Map() };
  // As evolve keeps them: the generation and spec now, the last completed spec, and the
  // changes of what runs by generation (restarts are rows too, but no change).
  let generation = 0;
  let spec: WorkloadSpec | undefined;
  let stable: WorkloadSpec | undefined;
  // Rollout events name the template generation; going back to a template (undo keeping its
  // copies) makes a new revision of an earlier one: the latest revision of each is meant.
  let byTemplate = new Map<number, Revision>();
  let latest: Revision | undefined;
  const open = (r: Revision, template: number) => {
    if (latest?.outcome === "in progress" || latest?.outcome.startsWith("stalled: ")) latest.outcome = "superseded";
    out.revisions.push((latest = r));
    byTemplate.set(template, r);
  };
  for (const e of events) {
    switch (e.type) {
      case "WorkloadApplied": {
        const w = e.workload;
        // Generation 1 is a creation: what the log holds of the name before is another workload's.
        if (w.generation === 1) {
          out = { revisions: [], specs: new Map() };
          byTemplate = new Map();
          latest = stable = undefined;
        }
        generation = w.generation;
        out.specs.set(generation, (spec = w.spec));
        // A change of what runs (not a scaling) starts a revision; previousSpec comes with one.
        if (w.templateGeneration === w.generation || e.previousSpec !== undefined) {
          open({ revision: generation, at: e.at, cause: e.undo ? undoCause(e.undo.to, out.revisions) : "applied", outcome: "in progress" }, w.templateGeneration);
        }
        break;
      }
      case "WorkloadRestartRequested":
        out.revisions.push({ revision: generation, at: e.at, cause: "restart", outcome: "requested" });
        break;
      case "WorkloadDeleteRequested":
      case "WorkloadExpired":
        if (latest?.outcome === "in progress") latest.outcome = "deleted";
        break;
      // Its revisions stay to be read; none can be brought back.
      case "WorkloadRemoved":
        out.specs = new Map();
        break;
      case "RolloutCompleted": {
        const r = byTemplate.get(e.generation);
        if (r) r.outcome = "complete";
        stable = spec;
        break;
      }
      case "RolloutStalled": {
        const r = byTemplate.get(e.generation);
        if (r?.outcome === "in progress") r.outcome = `stalled: ${e.reason}`;
        break;
      }
      case "RolloutReverted": {
        const failed = byTemplate.get(e.failedGeneration);
        if (failed) failed.outcome = `reverted: ${e.reason}`;
        generation = e.generation;
        spec = stable;
        if (stable) out.specs.set(generation, stable);
        open({ revision: generation, at: e.at, cause: `revert to generation ${e.to}`, outcome: "in progress" }, e.to);
        break;
      }
    }
  }
  return out;
}

/**
 * An undo's cause: to the revision asked for, or, for "the spec before the last change", to
 * the revision before the last change of what runs (the one it restores), when the log has it.
 */
function undoCause(to: number | undefined, revisions: readonly Revision[]): string {
  const target = to ?? revisions.filter((r) => r.cause !== "restart").at(-2)?.revision;
  return target === undefined ? "undo" : `undo to revision ${target}`;
}
