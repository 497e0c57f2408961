/**
 * Reads of a copy's output files (its log, its stderr, the output kept after it ended): byte
 * ranges, the end of a file, a log followed as it grows, and lines sent on in chunks. Shell:
 * file I/O.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from "node:fs";
import { type LogRequest, splitLines } from "./executor.js";

/** Lines per LogChunk message. */
const LOG_CHUNK_LINES = 500;

/** Bytes `from` to `to` of an open file (fewer if it is shorter by now). */
export function readRange(fd: number, from: number, to: number): Buffer {
  const buf = Buffer.alloc(Math.max(0, to - from));
  return buf.subarray(0, readSync(fd, buf, 0, buf.length, from));
}

/** The last `bytes` bytes of a file; throws when it cannot be read. */
export function readLastBytes(path: string, bytes: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    return readRange(fd, Math.max(0, size - bytes), size);
  } finally {
    closeSync(fd);
  }
}

/** Hands lines on LOG_CHUNK_LINES at a time, so that no message grows with the file. */
export function emitInChunks(lines: string[], emit: (lines: string[]) => void): void {
  for (let k = 0; k < lines.length; k += LOG_CHUNK_LINES) emit(lines.slice(k, k + LOG_CHUNK_LINES));
}

/**
 * Sends the lines of the log open at `fd` (the last `req.tail`, or all), then, when following,
 * what is appended, polling every `pollMs`, through rotation, until the request is aborted or
 * the file leaves `path` (the copy ended and its log was moved to the ended copies'). Reading
 * through the one descriptor, what the copy wrote last is still read after the move, and the
 * read ends there, with its unfinished last line. Closes `fd`.
 */
export async function followLog(fd: number, path: string, req: LogRequest, pollMs: number): Promise<void> {
  try {
    let offset = fstatSync(fd).size;
    const all = splitLines("", readRange(fd, 0, offset).toString("utf8"));
    let carry = all.rest;
    emitInChunks(req.tail > 0 ? all.lines.slice(-req.tail) : all.lines, req.emit);
    while (req.follow && !req.signal.aborted) {
      await Bun.sleep(pollMs);
      const ended = !existsSync(path);
      const size = fstatSync(fd).size;
      if (size < offset) offset = 0; // truncated by rotation: start over
      if (size > offset) {
        const next = splitLines(carry, readRange(fd, offset, size).toString("utf8"));
        offset = size;
        carry = next.rest;
        emitInChunks(next.lines, req.emit);
      }
      if (ended) {
        if (carry !== "") req.emit([carry]);
        return;
      }
    }
  } finally {
    closeSync(fd);
  }
}
