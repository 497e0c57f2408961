/**
 * One small JSON file per instance an executor may have started, so a restarted agent finds
 * every one of them (shell: file I/O).
 *
 * An executor writes an intent before it starts the work and completes the record after.
 * Every write replaces the whole file (tmp + rename): a kill -9 at any point leaves the
 * previous record or the next, never a part of one. No fsync: a record has to outlive the
 * agent, not the machine, and what it names (a process, a create in flight in the engine)
 * does not outlive the machine either.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface FoundRecord<T> {
  /** From the file's name, so even an unreadable record names its instance. */
  instanceId: string;
  /** Undefined when the file cannot be parsed (written by an older agent that wrote in place). */
  record: T | undefined;
}

export class InstanceRecords<T extends { instanceId: string }> {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private pathOf(instanceId: string): string {
    return join(this.dir, `${instanceId}.json`);
  }

  write(record: T): void {
    const path = this.pathOf(record.instanceId);
    writeFileSync(`${path}.tmp`, JSON.stringify(record));
    renameSync(`${path}.tmp`, path);
  }

  /** The record of one instance; undefined when there is none or it cannot be parsed. */
  read(instanceId: string): T | undefined {
    try {
      const parsed = JSON.parse(readFileSync(this.pathOf(instanceId), "utf8")) as T;
      return parsed?.instanceId === instanceId ? parsed : undefined;
    } catch {
      return undefined;
    }
  }

  remove(instanceId: string): void {
    rmSync(this.pathOf(instanceId), { force: true });
  }

  /**
   * Every record, unreadable ones included. Call it before any write of this run: it deletes
   * leftover .tmp files, which are writes cut short (the record they were to replace, or no
   * record and nothing started yet, is what stands).
   */
  readAll(): Array<FoundRecord<T>> {
    const found: Array<FoundRecord<T>> = [];
    for (const file of readdirSync(this.dir)) {
      if (file.endsWith(".json.tmp")) {
        rmSync(join(this.dir, file), { force: true });
        continue;
      }
      if (!file.endsWith(".json")) continue;
      const instanceId = file.slice(0, -".json".length);
      found.push({ instanceId, record: this.read(instanceId) });
    }
    return found;
  }
}
