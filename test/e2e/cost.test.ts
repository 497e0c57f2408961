/**
 * `tessera sim` on a cost scenario through the compiled binary (#21): the documented example's
 * ranking, checked on what is known by hand (bursty demand: scale-to-fit cheaper than
 * always-on, always-on faster), and the SVG plot.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { E2E_TIMEOUT_MS, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const EXAMPLE = join(import.meta.dir, "..", "..", "examples", "cost-bursty.yaml");
const h = new Harness();
beforeAll(requireBinary);
afterAll(() => h.stop());

test("the example ranks lifecycle strategies by cost within the wait bound: scale-to-fit far cheaper than always-on, always-on faster", async () => {
  const res = await h.run(["sim", "-f", EXAMPLE]);
  expect(res.stderr).toBe("");
  expect(res.code).toBe(0);
  const lines = res.stdout.trimEnd().split("\n");
  expect(lines[0]).toBe("10 nodes at most, 36 replicas at peak, 168h simulated; ranked by cheapest-within-wait, p95 wait bound 5m00s");
  expect(lines[1]).toMatch(/^RANK\s+STRATEGY\s+COST\s+WAIT P50\s+WAIT P95\s+WAIT MAX\s+UNSCHEDULABLE REPLICA-MIN\s+BOOTS\s+INTERRUPTIONS\s+RESCHEDULES\s+UTILIZATION$/);
  const row = (name: string) => lines.find((l) => l.split(/\s+/)[1] === name)!.split(/\s+/);
  // By hand: 10 nodes × 0.20 × 168 h, no copy ever waits.
  expect(row("always-on").slice(1, 6)).toEqual(["always-on", "336.00", "0s", "0s", "0s"]);
  expect(row("always-on")[0]).toBe("5");
  // One node all week, 8 more each morning from 9:00 (booted by 9:02) to 11:10: 33.60 + 7 × 8 × 2h10m × 0.20.
  expect(row("scale-to-fit").slice(1, 6)).toEqual(["scale-to-fit", "57.87", "2m00s", "2m00s", "2m00s"]);
  expect(Number(row("scale-to-fit")[0])).toBeLessThan(5);
  expect(lines.at(-1)).toMatch(/^spot ranks first by cheapest-within-wait: cost \d+\.\d\d, p95 wait 2m0\ds \(bound 5m00s\); next scale-to-fit: cost 57\.87, p95 wait 2m00s$/);
});

test("-o json carries every strategy's numbers; --plot writes the same SVG every run, with a title and a line per strategy", async () => {
  const svg = join(h.dir, "cost.svg");
  const res = await h.run(["sim", "-f", EXAMPLE, "-o", "json", "--plot", svg]);
  expect(res.code).toBe(0);
  const report = JSON.parse(res.stdout);
  const of = (name: string) => report.strategies.find((s: { name: string }) => s.name === name);
  expect(of("scale-to-fit").cost).toBeLessThan(of("always-on").cost);
  expect(of("always-on").waitMs.p95).toBeLessThan(of("scale-to-fit").waitMs.p95);
  expect(of("spot").interruptions).toBeGreaterThan(0);
  expect(of("spot").reschedules).toBeGreaterThan(0);

  const text = readFileSync(svg, "utf8");
  expect(text.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  expect(text.trimEnd().endsWith("</svg>")).toBe(true);
  expect(text).toContain("<title id=\"title\">Demand against running capacity, and cost, per lifecycle strategy</title>");
  expect(text).toMatch(/<desc id="desc">[^<]+<\/desc>/);
  for (const name of ["always-on", "scale-to-fit", "stopped-pool", "spot", "hybrid"]) expect(text).toContain(`<title>${name}: cost</title>`);
  // Well formed: every element closed, in order.
  const open: string[] = [];
  for (const [, close, name, selfClosing] of text.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
    if (close) expect(open.pop()).toBe(name!);
    else if (!selfClosing) open.push(name!);
  }
  expect(open).toEqual([]);

  const again = join(h.dir, "again.svg");
  expect((await h.run(["sim", "-f", EXAMPLE, "--plot", again])).code).toBe(0);
  expect(readFileSync(again, "utf8")).toBe(text);
});

test("a bad cost scenario exits 2 naming the field; --strategy and --plot say which scenarios they are for", async () => {
  const bad = join(h.dir, "bad-cost.yaml");
  writeFileSync(bad, "pools:\n  - {name: gp, count: 2, cpu_millis: 1000, memory_mb: 1024, price_per_hour: -1, boot: 1m}\ndemand:\n  - {workload: web, series: [{at: 0s, replicas: 1}]}\n");
  const res = await h.run(["sim", "-f", bad]);
  expect(res.code).toBe(2);
  expect(res.stderr).toBe(`error: ${bad}: pools[0].price_per_hour: expected a non-negative number, got -1\n`);
  const strategy = await h.run(["sim", "-f", EXAMPLE, "--strategy", "spread"]);
  expect(strategy.code).toBe(2);
  expect(strategy.stderr).toContain("--strategy: placement strategies are for placement scenarios");
  const plot = await h.run(["sim", "-f", join(import.meta.dir, "..", "..", "examples", "sim-fleet.yaml"), "--plot", join(h.dir, "x.svg")]);
  expect(plot.code).toBe(2);
  expect(plot.stderr).toBe("error: --plot: plots are drawn for cost scenarios (with pools and demand)\n");
});
