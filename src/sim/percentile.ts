/** Percentiles by nearest rank. PURE. Cost runs' waits and the benchmarks' latencies use it. */

/** Nearest rank: of 1,000 samples the p99 is the 991st smallest, with 9 above it. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
