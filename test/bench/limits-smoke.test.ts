/**
 * A small run of the limits benchmark (12), so it cannot rot: copies start on the agent with
 * cgroups and on the one without, and the limiting agent's CPU is read with copies running and
 * with none. No timing is asserted: speed goals live in `make bench`. As root, like the limits
 * end-to-end tests.
 */
import { expect, test } from "bun:test";
import { needsRoot, needTools } from "../system-packages/need.js";
import { runLimits } from "./limits.js";

const asRoot = needTools("the limits benchmark's smoke run", [], needsRoot("making cgroups"));

test.skipIf(asRoot.skip)("limits, smoke size: 2 starts per side, then the agent's CPU with 5 copies and with none", async () => {
  asRoot.require();
  const [run] = await runLimits(1, { samples: 2, copies: 5, settleMs: 200, cpuWindowMs: 1_000 });
  expect(run!.limitedP50).toBeGreaterThan(0);
  expect(run!.unlimitedP50).toBeGreaterThan(0);
  // An idle agent may use no CPU tick in a second.
  expect(run!.agentCpuPct).toBeGreaterThanOrEqual(0);
  expect(run!.agentIdleCpuPct).toBeGreaterThanOrEqual(0);
}, 60_000);
