/** `apply --wait`'s verdict on one applied generation, from the workload GetWorkload returns. */
import { describe, expect, test } from "bun:test";
import { REVERT_GRACE_MS, rolloutVerdict } from "../../cli/ctl/waits.js";
import { type Workload, WorkloadKind } from "../../src/gen/tessera/v1/types.js";

function workload(generation: number, status: Partial<NonNullable<Workload["status"]>>, spec: Partial<NonNullable<Workload["spec"]>> = {}): Workload {
  return {
    name: "web",
    labels: {},
    generation,
    spec: { command: "/bin/sleep", ...spec } as Workload["spec"],
    status: { desired: 3, running: 3, phase: "Running", deleting: false, nodes: [], ready: 3, rollout: "progressing", succeeded: 0, failed: 0, available: 3, rolloutComplete: false, revertedGeneration: 0, upToDate: 3, quarantines: [], lastRun: "", lastRunOutcome: "", ...status },
    createdAt: undefined,
  };
}

describe("rolloutVerdict", () => {
  test("done only when the applied generation's rollout is complete", () => {
    expect(rolloutVerdict(workload(2, { rolloutComplete: true, rollout: "complete" }), 2, 0)).toEqual({ kind: "done" });
    // Every copy Ready but still soaking: not yet (RolloutCompleted not recorded).
    expect(rolloutVerdict(workload(2, { rollout: "soaking: web-0.7 available at …" }), 2, 0)).toEqual({ kind: "waiting" });
  });

  test("a revert of the applied generation fails with why, though what runs is complete", () => {
    const reverted = workload(3, { rolloutComplete: true, revertedGeneration: 2, rollout: "complete (reverted from generation 2: not complete within progress_deadline 3s)" });
    expect(rolloutVerdict(reverted, 2, 0)).toEqual({ kind: "failed", why: "generation 2 was reverted: complete (reverted from generation 2: not complete within progress_deadline 3s)" });
  });

  test("a newer generation supersedes the applied one, complete or not", () => {
    expect(rolloutVerdict(workload(7, { rolloutComplete: true, rollout: "complete" }), 6, 0)).toEqual({ kind: "failed", why: "generation 6 was superseded by generation 7" });
    // An older revert does not make a later supersede a revert.
    expect(rolloutVerdict(workload(7, { rolloutComplete: true, revertedGeneration: 4 }), 6, 0).kind).toBe("failed");
    expect(rolloutVerdict(workload(7, { revertedGeneration: 4 }), 6, 0)).toEqual({ kind: "failed", why: "generation 6 was superseded by generation 7" });
  });

  test("a stall fails at once without auto_revert; under it only once the revert had time to come", () => {
    const stalled = { phase: "Stalled", rollout: "stalled: web-0: readiness checks not passing" };
    expect(rolloutVerdict(workload(2, stalled), 2, 0)).toEqual({ kind: "failed", why: "generation 2 stalled: web-0: readiness checks not passing" });
    const reverting = workload(2, stalled, { update: { autoRevert: true } as NonNullable<Workload["spec"]>["update"] });
    expect(rolloutVerdict(reverting, 2, 0)).toEqual({ kind: "waiting" });
    expect(rolloutVerdict(reverting, 2, REVERT_GRACE_MS).kind).toBe("failed");
  });

  test("a batch that Failed fails with its reason", () => {
    const failed = workload(1, { phase: "Failed", rollout: "failed: backoff limit 6 reached" }, { kind: WorkloadKind.WORKLOAD_KIND_BATCH });
    expect(rolloutVerdict(failed, 1, 0)).toEqual({ kind: "failed", why: "failed: backoff limit 6 reached" });
  });
});
