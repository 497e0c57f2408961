/**
 * Durations as people write them in flags and files: 500ms, 3s, 2m. PURE. The CLI's flags and
 * `tessera sim` scenarios both read them here, so both accept the same forms.
 */
const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000 };

/** What a refusal says is expected. */
export const DURATION_EXPECTED = "a duration like 500ms, 3s or 2m";

/** Milliseconds, or undefined when `value` is not a duration. */
export function parseDurationMs(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(value);
  return m ? Math.round(Number(m[1]) * UNITS[m[2]!]!) : undefined;
}
