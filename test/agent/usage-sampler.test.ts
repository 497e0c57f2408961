/** The agent's usage sampler: CPU as a rate between two samples, memory as sampled, nothing sent before a copy has a rate (#31). */
import { expect, test } from "bun:test";
import type { CopyUsage } from "../../src/gen/tessera/v1/agent_gateway.js";
import type { CopyCounters, Executor } from "../../src/agent/executor.js";
import { UsageSampler } from "../../src/agent/usage-sampler.js";

test("millicores from the counters of two samples; a copy first seen waits for its second", async () => {
  let counters: CopyCounters[] = [];
  const executor = { usage: async () => counters } as unknown as Executor;
  const sent: CopyUsage[][] = [];
  const sampler = new UsageSampler(executor, (copies) => sent.push(copies));
  counters = [{ instanceId: "a.1", cpuNanos: 0, memoryBytes: 10 }];
  await sampler.sample(1_000);
  expect(sent).toEqual([]);
  // 1 s later: a.1 used 0.25 s of CPU (250m); b.2 is new.
  counters = [
    { instanceId: "a.1", cpuNanos: 250_000_000, memoryBytes: 20 },
    { instanceId: "b.2", cpuNanos: 5e9, memoryBytes: 30 },
  ];
  await sampler.sample(2_000);
  expect(sent).toEqual([[{ instanceId: "a.1", cpuMillis: 250, memoryBytes: 20 }]]);
  counters = [{ instanceId: "b.2", cpuNanos: 5e9 + 2e9, memoryBytes: 30 }];
  await sampler.sample(4_000);
  expect(sent[1]).toEqual([{ instanceId: "b.2", cpuMillis: 1000, memoryBytes: 30 }]);
});
