/**
 * How many streams (Watch, WatchEndpoints, Logs, Exec, the page's event and log streams) one
 * token holds open at once: each holds buffers and, for Logs and Exec, a read on an agent, so
 * a token, read-only ones included, cannot open them without end.
 */

/** Streams one token may hold open at once. */
export const MAX_STREAMS_PER_TOKEN = 64;

export class StreamLimits {
  private readonly open = new Map<string, number>();

  constructor(readonly perKey = MAX_STREAMS_PER_TOKEN) {}

  /** Counts one more stream for `key` (a token's hash); what ends the count (once, however often called), or undefined past the limit. */
  take(key: string): (() => void) | undefined {
    const n = this.open.get(key) ?? 0;
    if (n >= this.perKey) return undefined;
    this.open.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.open.get(key)! - 1;
      if (left === 0) this.open.delete(key);
      else this.open.set(key, left);
    };
  }
}
