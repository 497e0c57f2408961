/** kubectl-style plain tables and ages. */

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
  if (!then) return "<unknown>";
  const s = Math.max(0, Math.floor((now - then.getTime()) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
