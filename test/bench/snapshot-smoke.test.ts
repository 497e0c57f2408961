/**
 * A small run of the snapshot benchmark (14), so it cannot rot: a store of 1,000 workloads saved
 * while both probes run, the copy holding them all. No timing is asserted.
 */
import { beforeAll, expect, test } from "bun:test";
import { requireBinary } from "../e2e/harness.js";
import { runSnapshot } from "./snapshot.js";

beforeAll(requireBinary);

test("snapshot, smoke size: 1,000 workloads saved while the writer is probed", async () => {
  const { fillMs, runs } = await runSnapshot(1_000, 1);
  const run = runs[0]!;
  expect(fillMs).toBeGreaterThan(0);
  expect(run.saveMs).toBeGreaterThan(run.rpcMs);
  expect(run.fileMib).toBeGreaterThan(0);
  // The writer took turns during the save, and alone.
  expect(run.turnsDuring).toBeGreaterThan(0);
  expect(run.heldMs).toBeGreaterThanOrEqual(run.turnDuringP50);
  expect(run.heldAloneMs).toBeGreaterThanOrEqual(run.turnAloneP50);
}, 60_000);
