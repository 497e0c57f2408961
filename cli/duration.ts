/** Parses durations as flags give them: 500ms, 3s, 2m. */
import { UsageError } from "clipanion";

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000 };

export function parseDuration(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(value);
  if (!m) throw new UsageError(`${flag}: expected a duration like 500ms, 3s or 2m, got "${value}"`);
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}
