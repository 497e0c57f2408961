/**
 * Invariant 15 of ARCHITECTURE.md over random sets of ended copies (fast-check, fixed printed
 * seed): an agent keeps at most `perReplica` ended copies' output per replica and `perNode` in
 * all, and the ones it keeps are the newest: a copy's output goes only when as many newer ones
 * of its replica, or of the node, are kept. Pruning what is kept drops nothing more.
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import { nameOfInstanceId } from "../../src/core/model/cluster-state.js";
import { type EndedOutput, outputsToDrop } from "../../src/core/output/log-retention.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261128);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 200);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);

/** Ended copies of a few replicas of two workloads; end times collide often, ids never. */
const endedArb = fc
  .uniqueArray(fc.record({ workload: fc.constantFrom("web", "api-v2"), index: fc.nat(3), seq: fc.nat(200), endedAt: fc.nat(20) }), { selector: (c) => c.seq, maxLength: 40 })
  .map((cs) => cs.map((c): EndedOutput => ({ instanceId: `${c.workload}-${c.index}.${c.seq}`, endedAt: c.endedAt })));
const retentionArb = fc.record({ perReplica: fc.integer({ min: 0, max: 4 }), perNode: fc.integer({ min: 0, max: 12 }) });

/** Whether `a` ended after `b` (ties: the later attempt). */
const newer = (a: EndedOutput, b: EndedOutput) => a.endedAt > b.endedAt || (a.endedAt === b.endedAt && Number(a.instanceId.split(".")[1]) > Number(b.instanceId.split(".")[1]));

test("15: never more than perReplica per replica nor perNode in all; the newest are the ones kept", () => {
  fc.assert(
    fc.property(endedArb, retentionArb, (ended, retention) => {
      const dropped = new Set(outputsToDrop(ended, retention));
      const kept = ended.filter((e) => !dropped.has(e.instanceId));
      expect(kept.length).toBeLessThanOrEqual(retention.perNode);
      const perReplica = new Map<string, number>();
      for (const k of kept) perReplica.set(nameOfInstanceId(k.instanceId), (perReplica.get(nameOfInstanceId(k.instanceId)) ?? 0) + 1);
      for (const n of perReplica.values()) expect(n).toBeLessThanOrEqual(retention.perReplica);
      for (const d of ended.filter((e) => dropped.has(e.instanceId))) {
        const newerKept = kept.filter((k) => newer(k, d));
        const newerOfReplica = newerKept.filter((k) => nameOfInstanceId(k.instanceId) === nameOfInstanceId(d.instanceId));
        expect(newerOfReplica.length >= retention.perReplica || newerKept.length >= retention.perNode).toBe(true);
      }
      expect(outputsToDrop(kept, retention)).toEqual([]);
    }),
    { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
  );
});
