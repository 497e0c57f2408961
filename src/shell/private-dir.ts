/**
 * Data dirs and secret files only their owner can use (shell: file I/O): a data dir is made
 * 0700, and one that others can read or write is refused, as is a secret file, naming the fix.
 */
import { mkdirSync, statSync } from "node:fs";
import { looseMode } from "../core/access/file-modes.js";

/** Makes `dir` (0700, parents too) unless it is there; throws when others can read or write it. `flag` names where it came from. */
export function ensurePrivateDir(dir: string, flag: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const loose = looseMode(dir, statSync(dir).mode, "dir");
  if (loose) throw new Error(`${flag}: ${loose}`);
}

/** Throws when others can read or write a secret file; `flag` names where it came from. */
export function checkSecretFile(file: string, flag: string): void {
  const loose = looseMode(file, statSync(file).mode, "file");
  if (loose) throw new Error(`${flag}: ${loose}`);
}
