/**
 * The plan's buckets, listed once (reconcile.ts): what an empty plan holds, which buckets are
 * changes, which give the next pass of a turn something to do, and how a turn's passes merge.
 */
import { describe, expect, test } from "bun:test";
import { emptyPlan, enablesMore, isEmptyPlan, mergePlans, type Plan, summarize } from "../../src/core/reconcile/reconcile.js";
import { T0 } from "./fixtures.js";

const BUCKETS = ["health", "markLost", "place", "pend", "waiting", "schedule", "stop", "forget", "removeWorkload", "finish", "expire", "launch", "skipRun", "promote", "complete", "revert", "stalled", "wave", "held", "skip"] as const;
type Name = (typeof BUCKETS)[number];

/** A plan with one (placeholder) entry in `bucket`: these functions only count entries. */
function withOne(bucket: Name): Plan {
  return { ...emptyPlan(T0), [bucket]: [{ placeholder: bucket }] } as unknown as Plan;
}

describe("the plan's buckets", () => {
  test("an empty plan holds every bucket empty, in the order plans are written", () => {
    expect(Object.keys(emptyPlan(T0))).toEqual(["at", ...BUCKETS]);
    for (const b of BUCKETS) expect(emptyPlan(T0)[b]).toEqual([]);
  });

  test.each(BUCKETS.map((b) => [b]))("%s: a change, whether it enables another pass, and its summary", (b) => {
    const p = withOne(b);
    const change = b !== "waiting" && b !== "skip";
    expect(isEmptyPlan(p)).toBe(!change);
    expect(enablesMore(p)).toBe(["health", "markLost", "pend", "stop", "forget", "removeWorkload", "finish", "expire", "launch", "promote", "revert"].includes(b));
    expect(summarize(p)).toBe(change ? `${b}=1` : b === "skip" ? "converged (1 held)" : "converged");
  });

  test("the summary counts changes in bucket order, then Pending reasons and skips", () => {
    const p = { ...emptyPlan(T0), held: [{}], place: [{}, {}], skip: [{}], waiting: [{}], stop: [{}] } as unknown as Plan;
    expect(summarize(p)).toBe("place=2 stop=1 held=1 waiting=1 skip=1");
  });

  test("merging a turn's passes concatenates every bucket but the skips, which are the last pass's", () => {
    const a = { ...emptyPlan(T0), place: [{ n: 1 }], waiting: [{ n: 1 }], skip: [{ n: 1 }] } as unknown as Plan;
    const b = { ...emptyPlan(T0 + 5), place: [{ n: 2 }], stop: [{ n: 2 }], skip: [{ n: 2 }] } as unknown as Plan;
    expect(mergePlans(a, b)).toEqual({ ...emptyPlan(T0), place: [{ n: 1 }, { n: 2 }], waiting: [{ n: 1 }], stop: [{ n: 2 }], skip: [{ n: 2 }] } as unknown as Plan);
    expect(Object.keys(mergePlans(a, b))).toEqual(["at", ...BUCKETS]);
  });
});
