/**
 * The same copy in a recorded log and in a re-run of it (what-if), though their ids differ.
 * PURE.
 *
 * Instance ids come from one counter for the whole cluster, so a what-if that creates one copy
 * earlier or later shifts the id of every copy created after it, of every workload. A copy is
 * therefore named by what does not shift: its workload, its replica index, its generation, and
 * which copy of that slot and generation it is (the first, the second, …), counted in the order
 * the copies were created. Within what a change does not reach, the log and the re-run create
 * the same copies in the same order, so they name them alike.
 */
import type { ClusterEvent } from "./cluster-events.js";

/** `web/1/g2#0`: the first copy of replica 1 of web created at generation 2. */
export type CopyKey = string;

/** The copies of one run (a log, or a re-run), named by CopyKey as they are created. */
export class CopyNames {
  private readonly keys = new Map<string, CopyKey>();
  private readonly ids = new Map<CopyKey, string>();
  private readonly nodes = new Map<string, string>();
  /** Copies created so far per slot and generation. */
  private readonly counts = new Map<string, number>();

  /** Takes note of the copies an event creates or places; other events change nothing. */
  note(e: ClusterEvent): void {
    if (e.type === "InstanceCreated") {
      const slot = `${e.workload}/${e.index}/g${e.generation}`;
      const n = this.counts.get(slot) ?? 0;
      this.counts.set(slot, n + 1);
      this.keys.set(e.id, `${slot}#${n}`);
      this.ids.set(`${slot}#${n}`, e.id);
    } else if (e.type === "InstanceTransitioned" && e.event.type === "place") this.nodes.set(e.id, e.event.node);
  }

  keyOf(id: string): CopyKey | undefined {
    return this.keys.get(id);
  }

  idOf(key: CopyKey): string | undefined {
    return this.ids.get(key);
  }

  /** The node the copy was placed on, if it was. */
  nodeOf(id: string): string | undefined {
    return this.nodes.get(id);
  }
}

/** Which copy an input of a log names, as the log had it then: for the re-run to find its own. */
export interface NamedCopy {
  key: CopyKey;
  /** The node the log had it placed on when the input came (inputs come from the copy's agent). */
  node: string | undefined;
}

/** The id of the copy an input names, if it names one (agents' reports, checks, exec). */
export function copyIdOf(e: ClusterEvent): string | undefined {
  return e.type === "InstanceTransitioned" || e.type === "InstanceCheckReported" || e.type === "InstanceExecStarted" ? e.id : undefined;
}

/** The input, naming `id` instead of the copy it named. */
export function renamed(e: ClusterEvent, id: string): ClusterEvent {
  return copyIdOf(e) === undefined ? e : { ...e, id } as ClusterEvent;
}
