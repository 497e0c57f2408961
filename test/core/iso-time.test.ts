/**
 * The core writes times as Date's toISOString does (views/iso-time.ts), without a Date: a table of
 * edges (epoch, leap days, century years, before 1970, past year 9999), then any millisecond in
 * Date's range against toISOString itself (fast-check, fixed printed seed).
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import { isoTime } from "../../src/core/views/iso-time.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261206);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 2_000);
console.log(`fast-check seed ${SEED}, ${RUNS} runs (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);

test.each([
  [0, "1970-01-01T00:00:00.000Z"],
  [-1, "1969-12-31T23:59:59.999Z"],
  [Date.UTC(2024, 1, 29, 23, 59, 59, 999), "2024-02-29T23:59:59.999Z"],
  [Date.UTC(2000, 2, 1), "2000-03-01T00:00:00.000Z"],
  [Date.UTC(2100, 1, 28, 12), "2100-02-28T12:00:00.000Z"],
  [Date.UTC(2026, 11, 6, 14, 8, 43, 7), "2026-12-06T14:08:43.007Z"],
  [Date.UTC(10_000, 0, 1), "+010000-01-01T00:00:00.000Z"],
  [Date.UTC(-1, 11, 31), "-000001-12-31T00:00:00.000Z"],
])("%p is %s", (ms, iso) => {
  expect(isoTime(ms)).toBe(iso);
});

test("any time Date can hold is written as toISOString writes it", () => {
  fc.assert(
    fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => isoTime(ms) === new Date(ms).toISOString()),
    { seed: SEED, numRuns: RUNS },
  );
});
