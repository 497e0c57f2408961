/**
 * Invariant 25 of ARCHITECTURE.md over random data dirs (fast-check, fixed printed seed): a
 * process executor adopting on a data dir takes over or reports only the copies recorded for
 * its own node name (or for none: records of agents from before names were recorded); another
 * node's records, logs and status files stay exactly as they were. The copies here no longer
 * run (their pids name no process), so every one of this node's is reported ended.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { ProcessExecutor } from "../../src/agent/process-executor.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261206);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 40);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);

const root = mkdtempSync(join(tmpdir(), "tessera-adoption-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Above Linux's largest pid (2^22): no process has it. */
const GONE_PID = 5_000_000;

/** A copy some agent recorded: for which node (none: an older agent), started or only intended, with a log or not. */
const recordArb = fc.record({
  node: fc.constantFrom("node-a", "node-b", undefined),
  started: fc.boolean(),
  log: fc.boolean(),
  status: fc.constantFrom(undefined, "0", "3"),
});

let run = 0;

test("25: an agent adopts or reports only its own node's copies; another node's stay as they were", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(recordArb, { maxLength: 8 }), async (records) => {
      const dir = join(root, String(run++));
      mkdirSync(join(dir, "instances"), { recursive: true });
      mkdirSync(join(dir, "logs"), { recursive: true });
      const ids = records.map((_, k) => `w-${k}.${k + 1}`);
      records.forEach((r, k) => {
        const id = ids[k]!;
        const record = { instanceId: id, generation: 1, ...(r.node === undefined ? {} : { node: r.node }), ...(r.started ? { pid: GONE_PID + k, startTime: "1" } : {}) };
        writeFileSync(join(dir, "instances", `${id}.json`), JSON.stringify(record));
        if (r.log) writeFileSync(join(dir, "logs", `${id}.log`), `output of ${id}\n`);
        if (r.status !== undefined) writeFileSync(join(dir, "instances", `${id}.status`), `${r.status}\n`);
      });
      /** A copy's files and what they hold. */
      const contents = (id: string) =>
        ["instances", "logs"].flatMap((sub) => readdirSync(join(dir, sub)).filter((f) => f.startsWith(`${id}.`)).map((f) => [`${sub}/${f}`, readFileSync(join(dir, sub, f), "utf8")]));
      const theirs = ids.filter((_, k) => records[k]!.node === "node-b");
      const before = new Map(theirs.map((id) => [id, contents(id)]));

      const found = await new ProcessExecutor(dir, "node-a").adopt();
      for (const a of found) {
        const mine = records[ids.indexOf(a.instanceId)]!.node !== "node-b";
        // Another node's copy is only named, never taken over or reported ended.
        expect(a.otherNode === undefined).toBe(mine);
        if (!mine) expect(a.running ?? a.exit).toBeUndefined();
        else expect(a.exit).toBeDefined();
      }
      expect(found.map((a) => a.instanceId).sort()).toEqual([...ids].sort());
      for (const id of theirs) expect(contents(id)).toEqual(before.get(id)!);
      // This node's records are gone once reported.
      for (const id of ids.filter((i) => !theirs.includes(i))) expect(existsSync(join(dir, "instances", `${id}.json`))).toBe(false);
    }),
    { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
  );
});
