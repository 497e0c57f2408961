/**
 * A small run of the partition benchmark (15), so it cannot rot: one agent's host of the lab cut
 * off for 6 s, then back. No timing is asserted (speed goals live in `make bench`), only that
 * the copies ran elsewhere and settled at exactly the replicas. As root, like the lab's tests.
 */
import { expect, test } from "bun:test";
import { labSuite } from "../lab/lab.js";
import { runPartition } from "./partition.js";

const suite = labSuite("the partition benchmark's smoke run");

test.skipIf(suite.skip)("partition, smoke size: one cut of 6 s, the copies run elsewhere, then exactly the replicas", async () => {
  suite.require();
  const [run] = await runPartition(1, 6_000);
  expect(run!.elsewhereMs).toBeGreaterThan(0);
  expect(run!.settledMs).toBeGreaterThanOrEqual(0);
}, 90_000);
