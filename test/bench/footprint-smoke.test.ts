/** A short run of the footprint benchmark, so it cannot rot. No goal is asserted, only sane numbers. */
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { compileGrpcFloor, compileHello, measureFootprint, scratchWithModules } from "./footprint.js";

const dir = scratchWithModules();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("footprint benchmark, smoke size: the agent connects and every number is positive and finite", async () => {
  const run = await measureFootprint(await compileHello(dir), await compileGrpcFloor(dir), { versionSpawns: 2, settleMs: 500, cpuWindowMs: 1_000 });
  for (const [key, value] of Object.entries(run)) {
    expect(Number.isFinite(value), key).toBe(true);
    // An idle process may use no CPU tick in a second; everything else is strictly positive.
    if (key.endsWith("CpuPct")) expect(value).toBeGreaterThanOrEqual(0);
    else expect(value, key).toBeGreaterThan(0);
  }
}, 30_000);
