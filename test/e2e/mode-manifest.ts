/**
 * The rollout suites' workload: `sleep` copies (VERSION tells specs apart) whose readiness
 * check passes while their MODE is good, so a test rolls out a spec that never gets Ready by
 * applying it with MODE bad.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export type Mode = "good" | "bad";

/** Writes NAME's manifest into `dir` and returns its path; `spec` adds to or replaces spec fields. */
export function modeManifest(dir: string, name: string, mode: Mode, version: string, spec: Record<string, unknown>): string {
  const file = join(dir, `${name}-${mode}-${version}.json`);
  const check = { name: "mode", exec: { command: "/bin/sh", args: ["-c", 'test "$MODE" = good'] }, interval: "0.2s", timeout: "1s" };
  writeFileSync(file, JSON.stringify({ name, spec: { command: "/bin/sh", args: ["-c", "exec sleep 3600", version], env: { MODE: mode }, checks: [check], ...spec } }));
  return file;
}
