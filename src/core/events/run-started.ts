/**
 * The events of a periodic batch's run starting: the reconciler's on schedule
 * (plan-to-events.ts), `ctl run`'s by hand (decide/workloads.ts). PURE.
 */
import type { Workload } from "../model/cluster-state.js";
import { runSpec } from "../model/spec.js";
import type { ClusterEvent } from "./cluster-events.js";

/**
 * A periodic batch's run started, at `due` (manual: `ctl run`): the batch's record moves on,
 * and the run is created as a batch workload of its own with the batch's labels and spec.
 */
export function runStarted(of: Workload, run: string, at: number, due: number, manual?: true): ClusterEvent[] {
  return [
    { type: "PeriodicRunStarted", at, name: of.name, run, due, ...(manual ? { manual } : {}) },
    { type: "WorkloadApplied", at, workload: { name: run, labels: of.labels, spec: runSpec(of.spec), generation: 1, templateGeneration: 1 }, run: { workload: of.name, due, ...(manual ? { manual } : {}) } },
  ];
}
