/**
 * The agent's limits flags (--cgroups, --pids-limit, --allow-unenforced-limits): whether its
 * process copies are held to their resources, by which cgroups, and what its hello says of it.
 * An agent that cannot enforce limits says so at start (and `describe node` shows why).
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { UsageError } from "clipanion";
import { type Cgroups, detectCgroups } from "../src/agent/cgroups.js";
import { DEFAULT_PIDS_MAX } from "../src/agent/process-executor.js";
import type { Logger } from "../src/shell/logger.js";
import type { NodeLimits } from "../src/gen/tessera/v1/types.js";
import { wholeNumber } from "./argv.js";

export interface LimitFlags {
  /** "auto" (use cgroups where the host has them) or "off". */
  cgroups: string;
  pidsLimit: string | undefined;
  allowUnenforced: boolean;
}

export interface ProcessLimits {
  cgroups: Cgroups | undefined;
  pidsMax: number;
  /** What the hello says. */
  limits: NodeLimits;
}

/**
 * The cgroup parent of the agent on `dataDir` for `node`: named by both, since copies are
 * recorded per data dir, and two agents on one host (each its own data dir) must never take
 * each other's cgroups for leftovers.
 */
function parentName(node: string, dataDir: string): string {
  return `${node}.${createHash("sha256").update(resolve(dataDir)).digest("hex").slice(0, 8)}`;
}

export function processLimits(flags: LimitFlags, node: string, dataDir: string, log: Logger): ProcessLimits {
  if (flags.cgroups !== "auto" && flags.cgroups !== "off") throw new UsageError(`--cgroups: expected auto or off, got "${flags.cgroups}"`);
  const pidsMax = flags.pidsLimit === undefined ? DEFAULT_PIDS_MAX : wholeNumber(flags.pidsLimit, "--pids-limit", 4_194_304);
  if (pidsMax < 1) throw new UsageError(`--pids-limit: expected at least 1, got "${flags.pidsLimit}"`);
  const found = flags.cgroups === "off" ? { reason: "--cgroups off" } : detectCgroups(parentName(node, dataDir));
  if ("cgroups" in found) {
    log.info("limits enforced", { by: found.cgroups.version, pidsMax });
    return { cgroups: found.cgroups, pidsMax, limits: { enforcedBy: found.cgroups.version, notEnforcedReason: "", allowUnenforced: flags.allowUnenforced } };
  }
  log.warn(`limits: not enforced (${found.reason})`, {
    placed: flags.allowUnenforced ? "copies that state resources are placed here all the same (--allow-unenforced-limits)" : "copies that state resources are not placed here",
  });
  return { cgroups: undefined, pidsMax, limits: { enforcedBy: "", notEnforcedReason: found.reason, allowUnenforced: flags.allowUnenforced } };
}
