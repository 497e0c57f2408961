/**
 * Durations as people write them in flags and files, in Go's form: 500ms, 40s, 1m30s, 2h; a
 * bare number is seconds (what `--timeout 300` always meant). PURE. The CLI's flags and
 * `tessera sim` scenarios both read them here, so both accept the same forms.
 */
const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
// "ms" before "m": 1m30s is a minute and 30 seconds, never 1 millisecond-and-something.
const PART = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|h|m|s))+$/;

/** What a refusal says is expected. */
export const DURATION_EXPECTED = "a duration like 500ms, 40s or 1m30s (a bare number is seconds)";

/** Milliseconds, or undefined when `value` is not a duration. */
export function parseDurationMs(value: string): number | undefined {
  if (/^\d+(?:\.\d+)?$/.test(value)) return Math.round(Number(value) * 1_000);
  if (!WHOLE.test(value)) return undefined;
  let ms = 0;
  for (const [, n, unit] of value.matchAll(PART)) ms += Number(n) * UNITS[unit!]!;
  return Math.round(ms);
}

/**
 * How a duration is shown. exact: the way parseDurationMs reads it back (1m30s, 40s, 500ms),
 * for what a person configured (flags, limits, timeouts). rounded: whole seconds and two units
 * at most, the second padded (7s, 1m05s, 2h10m), for what a simulation measured. age: one unit,
 * floored, kubectl's way (42s, 5m, 3h, 2d), for how long ago something happened in ctl's tables.
 */
export type DurationStyle = "exact" | "rounded" | "age";

const SIZES = [["h", 3_600_000], ["m", 60_000], ["s", 1_000], ["ms", 1]] as const;

/** `ms` in `style`; null or an endless duration (a wait that never ended) is "never". */
export function formatDurationMs(ms: number | null, style: DurationStyle = "exact"): string {
  if (ms === null || !Number.isFinite(ms)) return "never";
  return style === "exact" ? exact(ms) : style === "rounded" ? rounded(ms) : age(ms);
}

function exact(ms: number): string {
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [unit, size] of SIZES) {
    if (rest >= size) parts.push(`${Math.floor(rest / size)}${unit}`);
    rest %= size;
  }
  return parts.join("") || "0s";
}

function rounded(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function age(ms: number): string {
  // A time a little ahead of this machine's clock (skew) is no negative age.
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
