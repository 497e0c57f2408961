/**
 * The polling loops that follow a change to its end: `apply --wait` until the generation it
 * applied has rolled out (a batch: Complete), `drain` until the node is empty. Each polls with
 * a deadline and, when it runs out, names what is still in the way.
 */
import type { Writable } from "node:stream";
import { DesiredState, InstanceState, type Workload, WorkloadKind } from "../../src/gen/tessera/v1/types.js";
import type { Ctl } from "../client.js";
import { RemoteError } from "../errors.js";
import { formatDurationMs } from "../../src/core/model/duration.js";
import { describeDrainHolds, holdingNode } from "./drain-holds.js";
import { formatInstanceState, progressOf } from "./render.js";

const ROLLOUT_POLL_MS = 250;
const DRAIN_POLL_MS = 500;

/** A workload's progress line: READY of desired, and how many replicas run the current spec while not all do. */
function progressLine(w: Workload): string {
  const s = w.status!;
  const behind = w.spec?.kind !== WorkloadKind.WORKLOAD_KIND_BATCH && s.upToDate < s.desired ? `, ${s.upToDate} up-to-date` : "";
  return `${w.name} ${progressOf(w)}${behind}`;
}

/** Where the rollout of one applied generation stands, as `apply --wait` judges it. */
export type RolloutVerdict = { kind: "done" } | { kind: "waiting" } | { kind: "failed"; why: string };

/**
 * How long a stall under auto_revert is given to become its revert: the control plane reverts
 * at its next pass, within its tick (2 s by default). Past that the stall is reported (a first
 * rollout has no completed spec to go back to).
 */
export const REVERT_GRACE_MS = 5_000;

/**
 * Whether the generation `applied` of workload `w` rolled out: done only when that very
 * generation's rollout is complete (soaked and promoted, no older copy wanted); failed when it
 * was reverted (auto_revert), superseded by another generation, stalled past its
 * progress_deadline, or (a batch) Failed. A stall under auto_revert, seen for `stalledForMs`,
 * is reported only after REVERT_GRACE_MS: until then it is the moment before its revert.
 */
export function rolloutVerdict(w: Workload, applied: number, stalledForMs: number): RolloutVerdict {
  const s = w.status!;
  if (w.generation !== applied) {
    if (s.revertedGeneration >= applied && w.generation > applied) return { kind: "failed", why: `generation ${applied} was reverted: ${s.rollout}` };
    return { kind: "failed", why: `generation ${applied} was superseded by generation ${w.generation}` };
  }
  if (s.rolloutComplete) return { kind: "done" };
  if (w.spec?.kind === WorkloadKind.WORKLOAD_KIND_BATCH && s.phase === "Failed") return { kind: "failed", why: s.rollout };
  if (s.phase === "Stalled" && (stalledForMs >= REVERT_GRACE_MS || !w.spec?.update?.autoRevert)) return { kind: "failed", why: `generation ${applied} ${s.rollout}` };
  return { kind: "waiting" };
}

/**
 * Polls until every named workload's applied generation has rolled out (every replica an
 * available copy of it; a batch Complete); the first that fails (reverted, superseded,
 * stalled, a batch Failed) ends the wait with its reason.
 */
export async function waitForRollout(ctl: Ctl, targets: Array<{ name: string; generation: number }>, timeoutMs: number, stdout: Writable): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // On a terminal the progress line is rewritten in place; in a pipe each change is a line.
  const live = Boolean((stdout as NodeJS.WriteStream).isTTY);
  let last = "";
  // When each workload was first seen Stalled.
  const stalled = new Map<string, number>();
  for (;;) {
    const states = await Promise.all(targets.map(({ name }) => ctl.call(ctl.api.getWorkload, { name })));
    const progress = states.map((r) => progressLine(r.workload!)).join("; ");
    if (progress !== last) {
      stdout.write(live ? `\r\x1b[2K${progress}` : `${progress}\n`);
      last = progress;
    }
    const now = Date.now();
    for (const r of states) if (r.workload!.status?.phase !== "Stalled") stalled.delete(r.workload!.name);
    else if (!stalled.has(r.workload!.name)) stalled.set(r.workload!.name, now);
    const verdicts = states.map((r, k) => rolloutVerdict(r.workload!, targets[k]!.generation, now - (stalled.get(r.workload!.name) ?? now)));
    const failed = verdicts.findIndex((v) => v.kind === "failed");
    if (failed >= 0) {
      if (live) stdout.write("\n");
      throw new RemoteError(`${targets[failed]!.name} ${(verdicts[failed] as { why: string }).why}`);
    }
    if (verdicts.every((v) => v.kind === "done")) {
      if (live) stdout.write("\n");
      stdout.write("rollout complete\n");
      return;
    }
    // A replica that cannot be placed, keeps failing, or never passes its checks is reported.
    const stuck = states.flatMap((r) => r.instances.filter((i) => i.desiredState === DesiredState.DESIRED_STATE_RUN && !i.ready));
    if (Date.now() > deadline) {
      if (live) stdout.write("\n");
      // Where each rollout not done stands (held at a canary, soaking, paused), then its copies in the way.
      const holds = states.filter((_, k) => verdicts[k]!.kind !== "done").map((r) => `${r.workload!.name} ${r.workload!.status!.rollout}`);
      const copies = stuck.map((i) => `${i.name} ${formatInstanceState(i.observedState)}${i.reason ? ` (${i.reason})` : i.observedState === InstanceState.INSTANCE_STATE_RUNNING ? " (readiness checks not passing)" : ""}`);
      throw new RemoteError(`rollout not complete after ${formatDurationMs(timeoutMs)} (${progress}): ${[...holds, ...copies].join("; ")}`);
    }
    await Bun.sleep(ROLLOUT_POLL_MS);
  }
}

/**
 * Polls until nothing runs or is stopping on a draining node, printing the count as it falls.
 * Out of time, it names each copy still there and what it waits for; the drain goes on.
 */
export async function waitForDrain(ctl: Ctl, node: string, timeoutMs: number, stdout: Writable): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  for (;;) {
    const res = await ctl.call(ctl.api.getNode, { name: node });
    const held = holdingNode(res.instances);
    if (held.length !== last) stdout.write(`  ${held.length} instance(s) left on ${node}\n`);
    last = held.length;
    if (held.length === 0) {
      stdout.write(`node/${node} drained\n`);
      return;
    }
    if (Date.now() > deadline) {
      const names = [...new Set(held.map((i) => i.workload))];
      // A workload gone meanwhile just has nothing more to say.
      const found = await Promise.all(names.map((name) => ctl.call(ctl.api.getWorkload, { name }).then((w) => [name, w] as const, () => undefined)));
      const workloads = new Map(found.filter((w) => w !== undefined));
      const why = describeDrainHolds(node, held, workloads).map((line) => `\n  ${line}`).join("");
      throw new RemoteError(
        `node ${node} still holds ${held.length} instance(s) after ${formatDurationMs(timeoutMs)}; the drain goes on (no new copies go there, each one moves as soon as it can; \`tessera ctl uncordon ${node}\` ends it):${why}`,
      );
    }
    await Bun.sleep(DRAIN_POLL_MS);
  }
}
