/** kubectl-style plain tables and ages. */
import { formatDurationMs } from "../src/core/model/duration.js";

export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("   ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** 42s, 5m, 3h, 2d: the age of something created at `then`. */
export function age(then: Date | undefined, now: number): string {
  return then ? formatDurationMs(now - then.getTime(), "age") : "<unknown>";
}
