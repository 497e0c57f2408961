/**
 * A small run of the mosaic benchmark (9), so that it cannot rot: the page loads a fleet in
 * Chromium and takes a burst of changes. No timing is asserted: speed goals live in `make
 * bench`. Without Chromium it skips, visibly; under TESSERA_CI=1 it fails instead.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { requireBinary } from "../e2e/harness.js";
import { CHROMIUM, runWeb } from "./web.js";

setDefaultTimeout(60_000);
const skip = !existsSync(CHROMIUM) && process.env.TESSERA_CI !== "1";
if (skip) console.warn(`SKIP the mosaic benchmark's smoke run: ${CHROMIUM} is missing (apt-get install chromium)`);

beforeAll(() => {
  if (!skip) requireBinary();
});

test.skipIf(skip)("web, smoke size: 5 agents and 50 copies drawn in Chromium, then a burst of 20 changes drawn", async () => {
  const [run] = await runWeb(5, 50, 20, 1);
  expect(run!.loadMs).toBeGreaterThan(0);
  expect(run!.snapshotMs).toBeGreaterThan(0);
  expect(run!.burstMs).toBeGreaterThan(0);
  expect(run!.longestTaskMs).toBeGreaterThanOrEqual(0);
  expect(run!.parseMs).toBeGreaterThanOrEqual(0);
});
