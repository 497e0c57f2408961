/**
 * The polling loops that follow a change to its end: `apply --wait` until every replica has an
 * available copy of its spec (a batch: Complete), `drain` until the node is empty. Each polls with a deadline and,
 * when it runs out, names what is still in the way.
 */
import type { Writable } from "node:stream";
import { DesiredState, InstanceState, type Workload, WorkloadKind } from "../../src/gen/tessera/v1/types.js";
import type { Ctl } from "../client.js";
import { RemoteError } from "../errors.js";
import { formatDurationMs } from "../../src/core/duration.js";
import { describeDrainHolds, holdingNode } from "./drain-holds.js";
import { formatInstanceState, progressOf } from "./render.js";

const ROLLOUT_POLL_MS = 250;
const DRAIN_POLL_MS = 500;

/**
 * Whether a workload is where `apply --wait` waits for it: every replica with an available copy
 * of the current spec (READY counts the old copies still serving too), or a batch Complete.
 */
function arrived(w: Workload): boolean {
  return w.spec?.kind === WorkloadKind.WORKLOAD_KIND_BATCH ? w.status?.phase === "Complete" : w.status!.available >= w.status!.desired;
}

/** A workload's progress line: READY of desired, and how many replicas run the current spec while not all do. */
function progressLine(w: Workload): string {
  const s = w.status!;
  const behind = w.spec?.kind !== WorkloadKind.WORKLOAD_KIND_BATCH && s.upToDate < s.desired ? `, ${s.upToDate} up-to-date` : "";
  return `${w.name} ${progressOf(w)}${behind}`;
}

/**
 * Polls until every named workload has all replicas available at its spec, or for a batch
 * until it is Complete; a batch that Failed ends the wait with its reason.
 */
export async function waitForRollout(ctl: Ctl, names: string[], timeoutMs: number, stdout: Writable): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // On a terminal the progress line is rewritten in place; in a pipe each change is a line.
  const live = Boolean((stdout as NodeJS.WriteStream).isTTY);
  let last = "";
  for (;;) {
    const states = await Promise.all(names.map((name) => ctl.call(ctl.api.getWorkload, { name })));
    const progress = states.map((r) => progressLine(r.workload!)).join("; ");
    if (progress !== last) {
      stdout.write(live ? `\r\x1b[2K${progress}` : `${progress}\n`);
      last = progress;
    }
    const failed = states.find((r) => r.workload!.spec?.kind === WorkloadKind.WORKLOAD_KIND_BATCH && r.workload!.status?.phase === "Failed");
    if (failed) {
      if (live) stdout.write("\n");
      throw new RemoteError(`${failed.workload!.name} ${failed.workload!.status!.rollout}`);
    }
    if (states.every((r) => arrived(r.workload!))) {
      if (live) stdout.write("\n");
      stdout.write("rollout complete\n");
      return;
    }
    // A replica that cannot be placed, keeps failing, or never passes its checks is reported.
    const stuck = states.flatMap((r) => r.instances.filter((i) => i.desiredState === DesiredState.DESIRED_STATE_RUN && !i.ready));
    if (Date.now() > deadline) {
      if (live) stdout.write("\n");
      const why = stuck.length > 0 ? `: ${stuck.map((i) => `${i.name} ${formatInstanceState(i.observedState)}${i.reason ? ` (${i.reason})` : i.observedState === InstanceState.INSTANCE_STATE_RUNNING ? " (readiness checks not passing)" : ""}`).join("; ")}` : "";
      throw new RemoteError(`rollout not complete after ${formatDurationMs(timeoutMs)} (${progress})${why}`);
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
