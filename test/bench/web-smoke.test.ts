/**
 * A small run of the mosaic benchmark (9), so that it cannot rot: the page loads a fleet in
 * Chromium and takes a burst of changes. No timing is asserted: speed goals live in `make
 * bench`. Without Chromium it skips, visibly; under TESSERA_CI=1 it fails instead.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { requireBinary } from "../e2e/harness.js";
import { needTools } from "../system-packages/need.js";
import { runWeb } from "./web.js";

setDefaultTimeout(60_000);
const inChromium = needTools("the mosaic benchmark's smoke run", ["chromium"]);

beforeAll(() => {
  if (!inChromium.skip) requireBinary();
});

test.skipIf(inChromium.skip)("web, smoke size: 5 agents and 50 copies drawn in Chromium, the workloads table sorted and filtered, then a burst of 20 changes drawn", async () => {
  inChromium.require();
  const [run] = await runWeb(5, 50, 20, 1);
  expect(run!.loadMs).toBeGreaterThan(0);
  expect(run!.snapshotMs).toBeGreaterThan(0);
  expect(run!.burstMs).toBeGreaterThan(0);
  expect(run!.longestTaskMs).toBeGreaterThanOrEqual(0);
  expect(run!.parseMs).toBeGreaterThanOrEqual(0);
  expect(run!.sortMs).toBeGreaterThan(0);
  expect(run!.filterMs).toBeGreaterThan(0);
});
