/**
 * Writing a secret file (shell: file I/O), for both shells: the control plane's CA, server
 * key, tokens, cluster id and cluster key, and the agent's key and certificate.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Writes a file readable by its owner only, whole (via rename): a reader, or a renewal cut
 * short, sees the old text or the new one, never half of one. Each write has its own new
 * temporary file: two writers of one path (simulated agents sharing a data dir both write its
 * CA) never rename each other's, and the chmod undoes what a umask took. Synced, file and
 * directory, before it returns: the cluster key must be on disk before anything is sealed
 * under it.
 */
export function writeSecret(path: string, text: string): void {
  const tmp = `${path}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
  const fd = openSync(tmp, "wx", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  const dir = openSync(dirname(path), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
