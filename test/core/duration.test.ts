/** Durations in flags and scenarios: Go's forms, a bare number as seconds, and back. */
import { expect, test } from "bun:test";
import { formatDurationMs, parseDurationMs } from "../../src/core/model/duration.js";

test.each([
  ["500ms", 500],
  ["40s", 40_000],
  ["1m30s", 90_000],
  ["2h", 7_200_000],
  ["1.5s", 1_500],
  ["1m500ms", 60_500],
  ["300", 300_000],
  ["0", 0],
])("%s is %d ms", (text, ms) => {
  expect(parseDurationMs(text)).toBe(ms);
});

test.each(["", "s", "soon", "1x", "-1s", "1 s", "1s ", "m1"])("%p is no duration", (text) => {
  expect(parseDurationMs(text)).toBeUndefined();
});

test.each([0, 500, 2_000, 90_000, 60_500, 7_200_000])("%d ms reads back the same", (ms) => {
  expect(parseDurationMs(formatDurationMs(ms))).toBe(ms);
});

// Reports (`tessera sim`) measure rather than configure: whole seconds, two units at most.
test.each<[number | null, string]>([
  [0, "0s"],
  [499, "0s"],
  [7_000, "7s"],
  [59_600, "1m00s"],
  [65_000, "1m05s"],
  [300_000, "5m00s"],
  [7_805_000, "2h10m"],
  [604_800_000, "168h00m"],
  [null, "never"],
  [Number.POSITIVE_INFINITY, "never"],
])("%p ms is %p in a report", (ms, text) => {
  expect(formatDurationMs(ms, "rounded")).toBe(text);
});

test("an endless duration is never, exact or rounded", () => {
  expect(formatDurationMs(null)).toBe("never");
  expect(formatDurationMs(Number.POSITIVE_INFINITY)).toBe("never");
});

// Ages in ctl's tables, kubectl's way: one unit, floored; the clock skew of a future time is 0s.
test.each<[number, string]>([
  [-5_000, "0s"],
  [999, "0s"],
  [42_000, "42s"],
  [119_999, "119s"],
  [120_000, "2m"],
  [7_199_000, "119m"],
  [7_200_000, "2h"],
  [172_800_000, "2d"],
])("%d ms is %p as an age", (ms, text) => {
  expect(formatDurationMs(ms, "age")).toBe(text);
});
