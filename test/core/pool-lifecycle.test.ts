/** A pool's lifecycle decisions (#21): boots for waiting copies, idle releases, baselines, spot interruptions. */
import { describe, expect, test } from "bun:test";
import { baselineNodes, copiesPerNode, interruptionAfterMs, planBoots, planReleases, type PoolRoom } from "../../src/sim/pool-lifecycle.js";
import { seededRandom } from "../../src/sim/seeded-random.js";

const pool = (name: string, over: Partial<PoolRoom> = {}): PoolRoom => ({ name, capacity: { cpuMillis: 4000, memoryMb: 8192 }, labels: {}, coming: 0, available: 10, ...over });
const copies = (count: number, cpuMillis = 1000, nodeSelector: Record<string, string> = {}) => ({ resources: { cpuMillis, memoryMb: 1024 }, nodeSelector, count });

describe("planBoots", () => {
  test.each([
    ["nothing waits: nothing boots", [], 0, 0],
    ["9 copies of 4 a node: 3 nodes", [copies(9)], 0, 3],
    ["nodes already coming count first", [copies(9)], 2, 1],
    ["more coming than needed: none", [copies(4)], 3, 0],
    ["never more than the pool has left", [copies(100)], 0, 10],
    ["copies of 2500m take a node each (4000m nodes), not 2500/4000 of one", [copies(3, 2500)], 0, 3],
  ] as const)("%s", (_, waiting, coming, boots) => {
    expect(planBoots(waiting, [pool("a", { coming })]).get("a")).toBe(boots);
  });

  test("pools are tried in order; a pool whose labels or size do not fit is passed over", () => {
    const pools = [pool("small", { capacity: { cpuMillis: 1000, memoryMb: 1024 }, available: 2 }), pool("big"), pool("gpu", { labels: { gpu: "yes" } })];
    const boots = planBoots([copies(4, 1000), copies(2, 2000), copies(1, 1000, { gpu: "yes" })], pools);
    // small takes 2 of the 1000m copies (all it has), big the other 2 and the 2000m ones (a node each shape); gpu the one that asks for it.
    expect(Object.fromEntries(boots)).toEqual({ small: 2, gpu: 1, big: 2 });
  });

  test("copiesPerNode: the tighter of CPU and memory, 0 when the selector does not match", () => {
    expect(copiesPerNode(pool("a"), { resources: { cpuMillis: 500, memoryMb: 4096 }, nodeSelector: {} })).toBe(2);
    expect(copiesPerNode(pool("a"), { resources: { cpuMillis: 500, memoryMb: 64 }, nodeSelector: { zone: "b" } })).toBe(0);
  });
});

describe("planReleases", () => {
  const up = [
    { name: "n-0", idleSince: null },
    { name: "n-1", idleSince: 1_000 },
    { name: "n-2", idleSince: 5_000 },
  ];
  test("a node empty for the delay is let go; the next one's deadline is when to look again", () => {
    expect(planReleases(up, 11_000, 10_000, 0)).toEqual({ release: ["n-1"], nextAt: 15_000 });
    expect(planReleases(up, 15_000, 10_000, 0)).toEqual({ release: ["n-1", "n-2"], nextAt: undefined });
  });
  test("before the delay nothing goes", () => {
    expect(planReleases(up, 10_999, 10_000, 0)).toEqual({ release: [], nextAt: 11_000 });
  });
  test("a baseline keeps nodes up, busy ones counting first, then the lowest names", () => {
    expect(planReleases(up, 20_000, 10_000, 2)).toEqual({ release: ["n-2"], nextAt: undefined });
    expect(planReleases(up, 20_000, 10_000, 3)).toEqual({ release: [], nextAt: undefined });
  });
  test("no idle node: nothing to do, nothing to wait for", () => {
    expect(planReleases([{ name: "n-0", idleSince: null }], 1, 1, 0)).toEqual({ release: [], nextAt: undefined });
  });
});

test("baselineNodes: what each shape's lowest demand needs", () => {
  expect(baselineNodes(pool("a"), [copies(4), copies(1, 3000)])).toBe(2);
  expect(baselineNodes(pool("a"), [copies(0)])).toBe(0);
});

describe("interruptionAfterMs", () => {
  test("rate 0: never", () => {
    expect(interruptionAfterMs(seededRandom(1), 0)).toBe(Number.POSITIVE_INFINITY);
  });
  test("the same seed draws the same times, about 1/rate apart on average", () => {
    const draw = (seed: number) => Array.from({ length: 2_000 }, (() => { const r = seededRandom(seed); return () => interruptionAfterMs(r, 0.5); })());
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    const mean = draw(7).reduce((a, b) => a + b, 0) / 2_000;
    // Exponential with mean 2 h: within 10% over 2,000 draws.
    expect(mean / 7_200_000).toBeGreaterThan(0.9);
    expect(mean / 7_200_000).toBeLessThan(1.1);
  });
});
