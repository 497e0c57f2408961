/**
 * Several executors behind one: starts go to the docker executor when the spec names an
 * image and to the process executor otherwise; adoption, upkeep and logs ask each; exec
 * goes to the one that runs the instance.
 */
import type { FileOwner } from "../core/model/file-owner.js";
import type { ProbeTarget } from "./checks.js";
import { type Adopted, type CopyCounters, type ExecProcess, type ExecRequest, type Executor, type LogRequest, NoOutputRecorded, type Running, type StartRequest } from "./executor.js";

export class MultiExecutor implements Executor {
  readonly kinds: string[];
  private readonly byKind = new Map<string, Executor>();
  /** Which executor ran each instance this agent knows of. */
  private readonly owner = new Map<string, Executor>();

  constructor(private readonly executors: Executor[]) {
    this.kinds = executors.flatMap((e) => e.kinds);
    for (const e of executors) for (const k of e.kinds) this.byKind.set(k, e);
  }

  async start(req: StartRequest): Promise<Running> {
    const e = this.executorFor(req);
    this.owner.set(req.instanceId, e);
    return e.start(req);
  }

  async fileOwner(req: StartRequest): Promise<FileOwner | undefined> {
    return this.executorFor(req).fileOwner?.(req);
  }

  /** The one that runs a spec: docker for an image, process otherwise (simulated for either). */
  private executorFor(req: StartRequest): Executor {
    const kind = req.spec.image !== "" ? "docker" : "process";
    const e = this.byKind.get(kind) ?? this.byKind.get("simulated");
    if (!e) throw new Error(`this node has no ${kind} executor (it offers ${this.kinds.join(", ")})`);
    return e;
  }

  async adopt(): Promise<Adopted[]> {
    const all: Adopted[] = [];
    for (const e of this.executors) {
      for (const a of await e.adopt()) {
        this.owner.set(a.instanceId, e);
        all.push(a);
      }
    }
    return all;
  }

  async probeTarget(req: StartRequest): Promise<ProbeTarget | undefined> {
    return (this.owner.get(req.instanceId) ?? this.executors[0]!).probeTarget(req);
  }

  async exec(req: ExecRequest): Promise<ExecProcess> {
    const owner = this.owner.get(req.instanceId);
    if (!owner) throw new Error(`instance ${req.instanceId} is not running on this node`);
    return owner.exec(req);
  }

  async usage(): Promise<CopyCounters[]> {
    return (await Promise.all(this.executors.map((e) => e.usage()))).flat();
  }

  housekeeping(): void {
    for (const e of this.executors) e.housekeeping();
  }

  /**
   * A copy no executor here knows of is asked of each: the first that has its output reads it.
   * When none has, that is the answer, not the last executor's own wording (a process copy's
   * output was not missing "a container"); another failure (an engine down) says itself.
   */
  async readLogs(req: LogRequest): Promise<void> {
    const known = this.owner.get(req.instanceId);
    if (known) return known.readLogs(req);
    let failure: Error | undefined;
    for (const e of this.executors) {
      try {
        return await e.readLogs(req);
      } catch (err) {
        if (!(err instanceof NoOutputRecorded)) failure ??= err as Error;
      }
    }
    throw failure ?? new NoOutputRecorded(req.instanceId);
  }
}
