/**
 * The last lines a failed copy wrote to stderr, kept short enough to travel in a report, sit
 * in the event log and print under an instance. The agent bounds what it reads and the
 * control plane bounds again what it records: a report's size is never trusted. Pure.
 */

/** At most this many lines of a tail are kept. */
export const STDERR_TAIL_LINES = 20;
/** At most this many bytes (UTF-8) of a tail are kept. */
export const STDERR_TAIL_BYTES = 2048;

/**
 * The last STDERR_TAIL_LINES lines of `text`, then the last STDERR_TAIL_BYTES bytes of those,
 * cut at a line start when one falls inside (else mid-line, at a character boundary). Trailing
 * newlines and blank lines at the end go: the last line is the one that explains.
 */
export function boundStderrTail(text: string): string {
  const lines = text.replace(/\r/g, "").replace(/\s+$/, "").split("\n").slice(-STDERR_TAIL_LINES);
  let tail = lines.join("\n");
  const bytes = new TextEncoder().encode(tail);
  if (bytes.length <= STDERR_TAIL_BYTES) return tail;
  // Decoding from a byte that continues a character yields U+FFFD, dropped here.
  tail = new TextDecoder().decode(bytes.subarray(bytes.length - STDERR_TAIL_BYTES)).replace(/^\uFFFD+/, "");
  const lineStart = tail.indexOf("\n");
  return lineStart >= 0 && lineStart < tail.length - 1 ? tail.slice(lineStart + 1) : tail;
}

/** The last line of a tail: what a one-line reason quotes. */
export function lastStderrLine(tail: string): string {
  return tail.slice(tail.lastIndexOf("\n") + 1);
}

/**
 * A failure on one line, as `get instances` and event summaries show it: its reason, then the
 * last line of its stderr tail when there is one ("exited with code 1: OSError: ...").
 */
export function reasonWithStderr(reason: string, tail: string): string {
  if (tail === "") return reason;
  return reason === "" ? lastStderrLine(tail) : `${reason}: ${lastStderrLine(tail)}`;
}
