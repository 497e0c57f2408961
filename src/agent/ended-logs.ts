/**
 * The output of copies that ended, kept on the agent for `ctl logs --previous` and for `logs`
 * of a replica whose current copy has not run yet (shell: file I/O).
 *
 * Both executors hand a copy's output here once it ended: the process executor moves its log
 * file, the Docker executor copies a container's output out before it removes the container.
 * One file per copy, DATA_DIR/agent/ended-logs/ID.log, cut to its last `maxBytes` (the bound
 * live process logs are rotated at), whose modification time says when the copy ended. Which
 * of them stay is the core's decision (src/core/output/log-retention.ts), applied each time one is
 * added. Copies whose start failed printed nothing and are not kept: they would push out
 * output that someone may want.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OUTPUT_RETENTION, type OutputRetention, outputsToDrop } from "../core/output/log-retention.js";
import { splitLines } from "./executor.js";
import { emitInChunks, readLastBytes } from "./output-file.js";

/** A copy's output is kept up to this many bytes: a live log file is rotated above it, an ended copy's is cut to its end. */
export const MAX_LOG_BYTES = 10 * 1024 * 1024;

/** The end of a longer output, from its first line start when one falls inside (else as it is). */
function fromLineStart(tail: Buffer): Buffer {
  const lineStart = tail.indexOf(0x0a);
  return lineStart >= 0 && lineStart < tail.length - 1 ? tail.subarray(lineStart + 1) : tail;
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === "ENOENT";
}

export class EndedLogs {
  private readonly dir: string;

  constructor(
    /** The agent's data dir (DATA_DIR/agent). */
    dataDir: string,
    readonly maxBytes: number = MAX_LOG_BYTES,
    private readonly retention: Readonly<OutputRetention> = OUTPUT_RETENTION,
  ) {
    this.dir = join(dataDir, "ended-logs");
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // A write cut short by a crash; what it was to replace, if anything, stands.
    for (const file of readdirSync(this.dir)) if (file.endsWith(".tmp")) rmSync(join(this.dir, file), { force: true });
  }

  private pathOf(instanceId: string): string {
    return join(this.dir, `${instanceId}.log`);
  }

  /** Keeps a log file, moved here; nothing when there is none (the copy never ran). */
  keepFile(instanceId: string, file: string, endedAt: number): void {
    const path = this.pathOf(instanceId);
    try {
      renameSync(file, path);
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    if (statSync(path).size > this.maxBytes) this.write(path, fromLineStart(readLastBytes(path, this.maxBytes)));
    this.settle(path, endedAt);
  }

  /** Keeps output given whole (its end is kept when it is longer than maxBytes). */
  keepOutput(instanceId: string, output: Buffer, endedAt: number): void {
    const path = this.pathOf(instanceId);
    this.write(path, output.length > this.maxBytes ? fromLineStart(output.subarray(output.length - this.maxBytes)) : output);
    this.settle(path, endedAt);
  }

  /** Replaces a file whole (tmp + rename): a reader never sees half of it. */
  private write(path: string, bytes: Buffer): void {
    writeFileSync(`${path}.tmp`, bytes, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  }

  private settle(path: string, endedAt: number): void {
    utimesSync(path, new Date(endedAt), new Date(endedAt));
    this.prune();
  }

  /** Drops what the retention does not keep. */
  private prune(): void {
    const ended = [];
    for (const file of readdirSync(this.dir)) {
      if (!file.endsWith(".log")) continue;
      try {
        ended.push({ instanceId: file.slice(0, -".log".length), endedAt: statSync(join(this.dir, file)).mtimeMs });
      } catch {
        // Dropped meanwhile.
      }
    }
    for (const id of outputsToDrop(ended, this.retention)) rmSync(this.pathOf(id), { force: true });
  }

  /**
   * Sends a kept output's lines (the last `tail`, or all; a last line without its newline
   * too); false when none is kept. An ended copy prints nothing more: there is nothing to follow.
   */
  async read(instanceId: string, tail: number, emit: (lines: string[]) => void): Promise<boolean> {
    let text: string;
    try {
      text = await Bun.file(this.pathOf(instanceId)).text();
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
    const { lines, rest } = splitLines("", text);
    if (rest !== "") lines.push(rest);
    emitInChunks(tail > 0 ? lines.slice(-tail) : lines, emit);
    return true;
  }
}
