/**
 * Reads of a copy's output files (its log, its stderr, the output kept after it ended): byte
 * ranges, the end of a file, and lines sent on in chunks. Shell: file I/O.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

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
