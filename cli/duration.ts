/** Parses durations as flags give them: 500ms, 40s, 1m30s, or a bare number of seconds. */
import { UsageError } from "clipanion";
import { DURATION_EXPECTED, parseDurationMs } from "../src/core/model/duration.js";

export function parseDuration(value: string, flag: string): number {
  const ms = parseDurationMs(value);
  if (ms === undefined) throw new UsageError(`${flag}: expected ${DURATION_EXPECTED}, got "${value}"`);
  return ms;
}
