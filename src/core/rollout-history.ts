/**
 * A workload's rollouts from its event log, as `rollout history` lists them: each change of
 * what runs is a revision (its generation), with how its rollout ended. PURE.
 */
import type { ClusterEvent } from "./cluster-events.js";

export interface Revision {
  /** The generation it was applied (or reverted) at: what `rollout undo --to-revision` names. */
  revision: number;
  at: number;
  /** What started it: "applied", or "revert to generation N". */
  cause: string;
  /** "complete", "reverted: <why>", "superseded", "stalled: <why>" (still trying), or "in progress". */
  outcome: string;
}

/** The revisions of one workload's events, oldest first. Events of other workloads are ignored by the caller. */
export function rolloutRevisions(events: ClusterEvent[]): Revision[] {
  const out: Revision[] = [];
  // Rollout events name the template generation; going back to a template (undo keeping its
  // copies) makes a new revision of an earlier one: the latest revision of each is meant.
  const byTemplate = new Map<number, Revision>();
  const open = (r: Revision, template: number) => {
    const last = out.at(-1);
    if (last?.outcome === "in progress" || last?.outcome.startsWith("stalled: ")) last.outcome = "superseded";
    out.push(r);
    byTemplate.set(template, r);
  };
  for (const e of events) {
    switch (e.type) {
      case "WorkloadApplied":
        // A change of what runs (not a scaling) starts a revision; previousSpec comes with one.
        if (e.workload.templateGeneration === e.workload.generation || e.previousSpec !== undefined) open({ revision: e.workload.generation, at: e.at, cause: "applied", outcome: "in progress" }, e.workload.templateGeneration);
        break;
      case "RolloutCompleted": {
        const r = byTemplate.get(e.generation);
        if (r) r.outcome = "complete";
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
        open({ revision: e.generation, at: e.at, cause: `revert to generation ${e.to}`, outcome: "in progress" }, e.to);
        break;
      }
    }
  }
  return out;
}
