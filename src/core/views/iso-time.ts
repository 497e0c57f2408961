/**
 * A time in milliseconds since the epoch, written as Date's toISOString writes it
 * ("2026-12-06T14:08:43.000Z"), without a Date: the core may not construct one (purity.test.ts).
 * Pure. The calendar arithmetic is Howard Hinnant's days-to-civil.
 */

const DAY_MS = 86_400_000;

const pad = (n: number, width: number) => String(n).padStart(width, "0");

/** Year, month (1–12) and day of the month of a count of days since 1970-01-01 (proleptic Gregorian). */
function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1_460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day: doy - Math.floor((153 * mp + 2) / 5) + 1 };
}

export function isoTime(ms: number): string {
  const days = Math.floor(ms / DAY_MS);
  const inDay = ms - days * DAY_MS;
  const { year, month, day } = civilFromDays(days);
  // Years past four digits are signed and six digits long, as toISOString writes them.
  const y = year >= 0 && year <= 9_999 ? pad(year, 4) : `${year < 0 ? "-" : "+"}${pad(Math.abs(year), 6)}`;
  const time = `${pad(Math.floor(inDay / 3_600_000), 2)}:${pad(Math.floor(inDay / 60_000) % 60, 2)}:${pad(Math.floor(inDay / 1_000) % 60, 2)}.${pad(inDay % 1_000, 3)}`;
  return `${y}-${pad(month, 2)}-${pad(day, 2)}T${time}Z`;
}
