/**
 * Snapshot files of either store (snapshot-file.ts; fast-check, fixed printed seed): a whole
 * file reads back as its parts under the header that names its store; every shorter prefix
 * of it is refused (truncated, or not a snapshot when the header line itself is cut), never read
 * as a smaller snapshot.
 */
import { afterAll, expect, test } from "bun:test";
import fc from "fast-check";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packSnapshot, readSnapshot } from "../../src/control/store/snapshot-file.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261206);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 100);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);

const dir = mkdtempSync(join(tmpdir(), "tessera-snapshot-prop-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bytes = fc.uint8Array({ maxLength: 64 });
const sqliteParts = fc.tuple(bytes, fc.option(bytes, { nil: undefined })).map(([db, ca]) => [{ path: "tessera.db", data: db }, ...(ca ? [{ path: "pki/ca.pem", data: ca }] : [])]);
const postgresParts = fc
  .uniqueArray(fc.constantFrom("meta", "events", "workloads", "tokens", "cluster_ca"), { minLength: 1 })
  .chain((tables) => fc.tuple(...tables.map((t) => bytes.map((data) => ({ path: `postgres/${t}.jsonl`, data })))));
const snapshotArb = fc.oneof(
  sqliteParts.map((parts) => ({ store: "sqlite" as const, parts })),
  postgresParts.map((parts) => ({ store: "postgres" as const, parts })),
);

test("a whole snapshot file reads back under its store; every prefix of it is refused", () => {
  fc.assert(
    fc.property(snapshotArb, fc.nat(), fc.nat({ max: 1000 }), ({ store, parts }, seq, cutAt) => {
      const snapshot = packSnapshot({ store, clusterId: "c-1", sequence: seq, now: 0 }, parts);
      const whole = Buffer.concat([snapshot.header, ...snapshot.parts]);
      const file = join(dir, "s.snap");
      writeFileSync(file, whole);
      const read = readSnapshot(file);
      expect(read.meta).toMatchObject({ store, clusterId: "c-1", sequence: seq });
      expect(read.files.map((f) => [f.path, Buffer.from(f.data).toString("hex")])).toEqual(parts.map((p) => [p.path, Buffer.from(p.data).toString("hex")]));
      const cut = cutAt % whole.length;
      writeFileSync(file, whole.subarray(0, cut));
      expect(() => readSnapshot(file)).toThrow(/truncated|not a Tessera snapshot/);
    }),
    { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
  );
});
