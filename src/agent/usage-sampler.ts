/**
 * Samples what the agent's copies use every few seconds and sends it up the stream: CPU as a
 * rate (millicores over the interval, from the counters of two samples) and memory now.
 * Volatile: a sample sent while the stream is down is dropped, never kept for later (the next
 * one replaces it), and never logged. Shell.
 */
import type { CopyUsage } from "../gen/tessera/v1/agent_gateway.js";
import type { CopyCounters, Executor } from "./executor.js";

/** How often copies are sampled. */
export const USAGE_SAMPLE_MS = 5_000;

export class UsageSampler {
  /** The previous sample's counters, by instance, and when it was taken. */
  private last = new Map<string, CopyCounters>();
  private lastAt = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private sampling = false;

  constructor(
    private readonly executor: Executor,
    private readonly send: (copies: CopyUsage[]) => void,
    private readonly everyMs = USAGE_SAMPLE_MS,
  ) {}

  start(): void {
    // The counters to take the first rate from.
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One sample; a copy first seen now has no rate yet and is sent from the next. */
  async sample(now = performance.now()): Promise<void> {
    // A slow engine (docker stats) must not stack samples up.
    if (this.sampling) return;
    this.sampling = true;
    try {
      const counters = await this.executor.usage();
      const elapsedNs = (now - this.lastAt) * 1e6;
      const copies: CopyUsage[] = [];
      for (const c of counters) {
        const before = this.last.get(c.instanceId);
        if (before === undefined || elapsedNs <= 0) continue;
        const cpuMillis = Math.max(0, Math.round(((c.cpuNanos - before.cpuNanos) / elapsedNs) * 1000));
        copies.push({ instanceId: c.instanceId, cpuMillis, memoryBytes: c.memoryBytes });
      }
      this.last = new Map(counters.map((c) => [c.instanceId, c]));
      this.lastAt = now;
      if (copies.length > 0) this.send(copies);
    } catch {
      // The next sample tries again.
    } finally {
      this.sampling = false;
    }
  }
}
