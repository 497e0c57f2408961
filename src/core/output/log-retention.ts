/**
 * Which ended copies' output an agent keeps (src/agent/ended-logs.ts applies it). PURE.
 *
 * An agent keeps what its copies printed after they end, so that `ctl logs --previous` (and
 * `logs` of a replica whose current copy has not run yet) can still print it: the newest
 * `perReplica` ended copies of each replica, and of those the newest `perNode` in all. Newest
 * means ended last; ties go to the later attempt. The last ended copy of a replica, the one
 * the control plane asks for, is kept while fewer than `perNode` copies on the node ended
 * after it; the one before it too, so that reading it survives the next copy's end.
 * Each kept output is bounded in size by the agent (the log rotation's bound).
 */
import { instanceSeq, nameOfInstanceId } from "../model/cluster-state.js";

/** An ended copy whose output the agent holds. */
export interface EndedOutput {
  instanceId: string;
  /** When it ended (ms since the epoch). */
  endedAt: number;
}

export interface OutputRetention {
  /** Ended copies kept per replica (web-0's attempts), the newest. */
  perReplica: number;
  /** Ended copies kept per node in all, the newest. */
  perNode: number;
}

export const OUTPUT_RETENTION: Readonly<OutputRetention> = { perReplica: 2, perNode: 50 };

/** Newest first: ended later, then the later attempt, then by id (so the order is total). */
function newestFirst(a: EndedOutput, b: EndedOutput): number {
  return b.endedAt - a.endedAt || instanceSeq(b.instanceId) - instanceSeq(a.instanceId) || (a.instanceId < b.instanceId ? 1 : a.instanceId > b.instanceId ? -1 : 0);
}

/** The ids of the ended copies whose output goes: all but the newest of each replica and of the node. */
export function outputsToDrop(ended: readonly EndedOutput[], retention: Readonly<OutputRetention> = OUTPUT_RETENTION): string[] {
  const keptOf = new Map<string, number>();
  let kept = 0;
  const drop: string[] = [];
  for (const e of [...ended].sort(newestFirst)) {
    const name = nameOfInstanceId(e.instanceId);
    const ofReplica = keptOf.get(name) ?? 0;
    if (ofReplica < retention.perReplica && kept < retention.perNode) {
      keptOf.set(name, ofReplica + 1);
      kept++;
    } else drop.push(e.instanceId);
  }
  return drop;
}
