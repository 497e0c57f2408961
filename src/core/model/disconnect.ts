/**
 * A workload's disconnect block (spec.disconnect, Nomad's `disconnect`): what a node falling
 * silent means for its copies there. The control plane reads `lostAfterMs` and `replace`
 * (reconcile/gates.ts disconnectGate); the agent reads `stopOnClientAfterMs` from the spec it
 * was given with each copy. PURE.
 */
import type { WorkloadSpec } from "../../gen/tessera/v1/types.js";
import { durationMs } from "./spec.js";
import { invalidArgument, type Rejection } from "./rejections.js";

export interface DisconnectRules {
  /** Silence of the copy's node after which it is lost and replaced; undefined: the Offline threshold. */
  lostAfterMs: number | undefined;
  /** false: never replaced while its node is silent; the workload waits for the node. */
  replace: boolean;
  /** An agent cut off from every control plane this long stops the copy; undefined: never. */
  stopOnClientAfterMs: number | undefined;
}

export const DEFAULT_DISCONNECT: DisconnectRules = Object.freeze({ lostAfterMs: undefined, replace: true, stopOnClientAfterMs: undefined });

export function disconnectRules(spec: WorkloadSpec): DisconnectRules {
  const d = spec.disconnect;
  if (d === undefined) return DEFAULT_DISCONNECT;
  return { lostAfterMs: durationMs(d.lostAfter), replace: d.replace ?? true, stopOnClientAfterMs: durationMs(d.stopOnClientAfter) };
}

/** A disconnect time longer than a week is almost certainly a mistake. */
export const MAX_DISCONNECT_MS = 7 * 86_400_000;

/** Problems with spec.disconnect, each naming its field. */
export function validateDisconnect(spec: WorkloadSpec): Rejection[] {
  const d = spec.disconnect;
  if (d === undefined) return [];
  const problems: Rejection[] = [];
  const field = "workload.spec.disconnect";
  for (const [name, value] of [
    ["lost_after", d.lostAfter],
    ["stop_on_client_after", d.stopOnClientAfter],
  ] as const) {
    if (value === undefined) continue;
    if (value.seconds < 0 || value.nanos < 0 || value.nanos > 999_999_999) problems.push(invalidArgument(`${field}.${name}`, "a non-negative duration (nanos from 0 to 999999999)"));
    else if (durationMs(value)! > MAX_DISCONNECT_MS) problems.push(invalidArgument(`${field}.${name}`, `at most 168h (a week), got ${durationMs(value)! / 1000}s`));
    else if (durationMs(value) === 0) problems.push(invalidArgument(`${field}.${name}`, `a duration above 0 (unset: ${name === "lost_after" ? "the Offline threshold" : "never"})`));
  }
  if (d.replace === false && d.lostAfter !== undefined)
    problems.push(invalidArgument(`${field}.lost_after`, "none with replace: false (its copies are never replaced while their node is silent)"));
  return problems;
}

/** A copy an agent holds, with the deadline its spec gave it (stop_on_client_after). */
export interface CopyDeadline {
  instanceId: string;
  stopOnClientAfterMs: number;
}

/**
 * The agent's side: which copies to stop at `now`, having last heard a control plane at
 * `lastHeardAt` (the agent shell knows when). A copy goes once the silence is longer than its
 * deadline; the shell stops each once and forgets it.
 */
export function copiesPastDeadline(copies: Iterable<CopyDeadline>, lastHeardAt: number, now: number): string[] {
  const silence = now - lastHeardAt;
  return [...copies].filter((c) => silence > c.stopOnClientAfterMs).map((c) => c.instanceId);
}
