/** Parses durations as flags give them: 500ms, 3s, 2m. */
import { UsageError } from "clipanion";
import { DURATION_EXPECTED, parseDurationMs } from "../src/core/duration.js";

export function parseDuration(value: string, flag: string): number {
  const ms = parseDurationMs(value);
  if (ms === undefined) throw new UsageError(`${flag}: expected ${DURATION_EXPECTED}, got "${value}"`);
  return ms;
}
