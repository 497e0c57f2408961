/**
 * Writing a secret file (shell: file I/O), for both shells: the control plane's CA, server
 * key, tokens and cluster id, and the agent's key and certificate.
 */
import { chmodSync, renameSync, writeFileSync } from "node:fs";

/**
 * Writes a file readable by its owner only, whole (via rename): a reader, or a renewal cut
 * short, sees the old text or the new one, never half of one. The chmod covers a tmp file
 * left by an earlier write, which `mode` would not change.
 */
export function writeSecret(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}
