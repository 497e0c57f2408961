/**
 * `apply --wait`'s exit code equals whether the generation it applied completed (fast-check,
 * fixed printed seed), over whatever GetWorkload may say: success only for that very generation
 * with its rollout complete; any other generation (a revert's, a newer apply's) is a failure,
 * complete or not; a stall is never a success.
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import { REVERT_GRACE_MS, rolloutVerdict } from "../../cli/ctl/waits.js";
import { type Workload, WorkloadKind } from "../../src/gen/tessera/v1/types.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261206);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 500);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);

const workloadArb = fc
  .record({
    generation: fc.integer({ min: 1, max: 6 }),
    kind: fc.constantFrom(WorkloadKind.WORKLOAD_KIND_SERVICE, WorkloadKind.WORKLOAD_KIND_SYSTEM, WorkloadKind.WORKLOAD_KIND_BATCH),
    autoRevert: fc.boolean(),
    phase: fc.constantFrom("Running", "Degraded", "NotReady", "Stalled", "Pending", "Complete", "Failed"),
    rolloutComplete: fc.boolean(),
    revertedGeneration: fc.integer({ min: 0, max: 6 }),
  })
  .map(
    (r): Workload => ({
      name: "web",
      labels: {},
      generation: r.generation,
      spec: { command: "/bin/true", kind: r.kind, update: { autoRevert: r.autoRevert } } as Workload["spec"],
      status: { desired: 2, running: 2, phase: r.phase, deleting: false, nodes: [], ready: 2, rollout: "…", succeeded: 0, failed: 0, available: 2, rolloutComplete: r.rolloutComplete, revertedGeneration: r.revertedGeneration, upToDate: 2, quarantines: [], lastRun: "", lastRunOutcome: "" },
      createdAt: undefined,
    }),
  );

test("--wait succeeds exactly when the generation it applied completed", () => {
  fc.assert(
    fc.property(workloadArb, fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 2 * REVERT_GRACE_MS }), (w, applied, stalledForMs) => {
      const verdict = rolloutVerdict(w, applied, stalledForMs);
      const completed = w.generation === applied && w.status!.rolloutComplete;
      expect(verdict.kind === "done").toBe(completed);
      if (w.generation !== applied) expect(verdict.kind).toBe("failed");
      if (!completed && w.status!.phase === "Stalled" && stalledForMs >= REVERT_GRACE_MS) expect(verdict.kind).toBe("failed");
    }),
    { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
  );
});
