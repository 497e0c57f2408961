/**
 * The copies an agent holds and what becomes of them: adopting what a previous run left,
 * starting and stopping them on command, noticing exits nobody asked for, and running their
 * readiness and liveness checks. Every change goes through the state machine the control
 * plane's records use too (src/core/model/instance-machine.ts) and is reported. Shell: it drives
 * the executor.
 */
import { type InstanceEvent, type InstanceState, type ReportedState, transition } from "../core/model/instance-machine.js";
import type { Logger } from "../shell/logger.js";
import { protocolOf } from "../core/model/ports.js";
import { resolveSpec } from "../core/model/spec.js";
import { INSTANCE_STATE_TO_WIRE } from "../core/model/wire-enums.js";
import type { AgentMessage, RefreshSecrets, RunningInstance, StartInstance, StopInstance } from "../gen/tessera/v1/agent_gateway.js";
import type { Check, WorkloadSpec } from "../gen/tessera/v1/types.js";
import type { HostVolume } from "../core/model/volumes.js";
import type { FileOwner } from "../core/model/file-owner.js";
import { isLiveness, runChecks } from "./checks.js";
import { resolveMounts } from "./host-volumes.js";
import type { EndpointsOf, SecretFiles } from "./secret-files.js";
import { copyVariables, describeExit, type Executor, type Exit, type Running, type StartRequest } from "./executor.js";

interface Held {
  id: string;
  generation: number;
  state: InstanceState;
  /** Why it failed and how it exited, once it did (told again in every hello). */
  reason: string;
  exitCode?: number;
  stderrTail?: string;
  /** Set when a failing liveness check is ending it: the reason its exit reports. */
  livenessFailure?: string;
  running?: Running;
  /** What started it (unset for a copy adopted from a previous run): what a restart in place starts again. */
  req?: StartRequest;
  /** Stops its readiness checks. */
  stopChecks?: () => void;
  /** Serializes operations on one instance (a stop waits for its start). */
  op: Promise<void>;
}

export class InstanceSupervisor {
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly executor: Executor,
    private readonly log: Logger,
    /** Sends a report or check verdict up the stream, or keeps it for the next one. */
    private readonly report: (msg: AgentMessage) => void,
    /** This node's name and the host volumes its agent declares: what copies' volumes resolve to. */
    private readonly node: string,
    private readonly hostVolumes: readonly HostVolume[],
    /** Where copies' secrets and configs are written (a tmpfs); none: an agent without a data dir, given none. */
    private readonly secretFiles?: SecretFiles,
    /** The cluster's endpoints as the agent holds them: what template configs name. */
    private readonly endpointsOf: EndpointsOf = () => [],
  ) {}

  /** Takes over what a previous run of the agent left behind, running or ended. */
  async adopt(): Promise<void> {
    for (const a of await this.executor.adopt()) {
      if (a.otherNode !== undefined) {
        // Not ours to report or stop: the agent of that node adopts it when it starts here again.
        this.log.warn("left alone: a copy recorded for another node on this data dir", { instance: a.instanceId, recordedFor: a.otherNode });
        continue;
      }
      const h: Held = { id: a.instanceId, generation: a.generation, state: "running", reason: "", op: Promise.resolve() };
      this.held.set(h.id, h);
      if (a.running) {
        h.running = a.running;
        this.watchExit(h, a.running);
        this.log.info("adopted a running instance", { instance: h.id });
      } else {
        this.apply(h, failOf(a.exit!), true);
        this.log.info("an instance ended while the agent was away", { instance: h.id, reason: h.reason });
      }
    }
  }

  /** Every copy held, as a hello tells the control plane. */
  holdings(): RunningInstance[] {
    return [...this.held.values()].map((h) => ({ instanceId: h.id, generation: h.generation, state: INSTANCE_STATE_TO_WIRE[h.state], reason: h.reason, exitCode: h.exitCode, stderrTail: h.stderrTail ?? "" }));
  }

  start(cmd: StartInstance): Promise<void> {
    if (this.held.has(cmd.instanceId)) return this.held.get(cmd.instanceId)!.op;
    const h: Held = { id: cmd.instanceId, generation: cmd.generation, state: "scheduled", reason: "", op: Promise.resolve() };
    this.held.set(h.id, h);
    h.op = (async () => {
      this.apply(h, { type: "provision" }, true);
      try {
        const req: StartRequest = {
          instanceId: cmd.instanceId,
          name: cmd.name,
          workload: cmd.workload,
          generation: cmd.generation,
          spec: cmd.spec!,
          ports: cmd.ports.map((p) => ({ ...p, protocol: protocolOf(p.protocol) })),
          hostIp: cmd.hostIp,
          mounts: resolveMounts(cmd.spec!, this.hostVolumes, this.node),
        };
        // Its template configs name its variables.
        req.secrets = this.secretFiles?.write(cmd.instanceId, cmd.spec!, cmd.delivered, { vars: copyVariables(req), endpointsOf: this.endpointsOf, owner: await this.fileOwner(req) });
        const running = await this.executor.start(req);
        h.running = running;
        h.req = req;
        this.apply(h, { type: "run" }, true);
        this.log.info("instance running", { instance: h.id });
        this.watchExit(h, running);
        await this.startChecks(h, req);
      } catch (err) {
        this.secretFiles?.remove(h.id);
        this.apply(h, { type: "fail", reason: (err as Error).message }, true);
        throw err;
      }
    })();
    return h.op;
  }

  /** Whose a copy's secret and config files are: the agent's, or a container's numeric USER's (asked only when it mounts any). */
  private async fileOwner(req: StartRequest): Promise<FileOwner | undefined> {
    const mounts = (req.spec.secrets ?? []).length + (req.spec.configs ?? []).length;
    return mounts > 0 && this.secretFiles ? this.executor.fileOwner?.(req) : undefined;
  }

  /**
   * New versions of a running copy's secrets and configs (spec.on_change SIGNAL or NONE):
   * written over its files, then its signal, if any, once it runs (after its start). Nothing
   * when it holds these versions already, is not held here, or no longer runs.
   */
  refresh(cmd: RefreshSecrets): Promise<void> {
    const h = this.held.get(cmd.instanceId);
    const files = this.secretFiles;
    if (!h || !files) return Promise.resolve();
    const refreshed = h.op
      .catch(() => {})
      .then(async () => {
        if (h.state !== "running" || !h.running || !files.refresh(h.id, cmd.delivered, this.endpointsOf)) return;
        this.log.info("secrets refreshed", { instance: h.id, signal: cmd.signal || "none" });
        if (cmd.signal !== "") await h.running.signal(cmd.signal as NodeJS.Signals);
      });
    h.op = refreshed.catch(() => {});
    return refreshed;
  }

  /**
   * After the cluster's endpoints changed: each running copy's template configs rendered again,
   * and a copy whose files changed signalled (SIGHUP) or restarted in place under its
   * on_change (restartInPlace says why in place); nothing for `none`.
   */
  rerender(): void {
    const files = this.secretFiles;
    if (!files) return;
    for (const h of this.held.values()) {
      h.op = h.op
        .catch(() => {})
        .then(async () => {
          if (h.state !== "running" || !h.running) return;
          const mode = files.rerender(h.id, this.endpointsOf);
          if (mode === undefined) return;
          this.log.info("template configs rendered anew for changed endpoints", { instance: h.id, onChange: mode });
          if (mode === "signal") await h.running.signal("SIGHUP");
          if (mode === "restart") await this.restartInPlace(h);
        })
        .catch((err: Error) => this.log.warn("template configs not rendered anew", { instance: h.id, error: err.message }));
    }
  }

  stop(cmd: StopInstance): Promise<void> {
    const h = this.held.get(cmd.instanceId);
    if (!h) {
      // Nothing held: it is stopped as far as this node knows.
      this.report({ payload: { $case: "report", value: { instanceId: cmd.instanceId, generation: cmd.generation, state: INSTANCE_STATE_TO_WIRE.stopped, reason: "", stderrTail: "" } } });
      return Promise.resolve();
    }
    h.op = h.op
      .catch(() => {})
      .then(async () => {
        if (h.state === "stopped") return;
        h.stopChecks?.();
        if (h.state !== "stopping") this.apply(h, { type: "stop", reason: "requested" }, false);
        const exit = h.running ? await h.running.stop(cmd.gracePeriodMs) : undefined;
        this.apply(h, { type: "finish", exitCode: exit?.exitCode ?? undefined }, true);
        this.held.delete(h.id);
        this.log.info("instance stopped", { instance: h.id });
      });
    return h.op;
  }

  /** Stops every copy held (used by `tessera dev` on exit). */
  async stopAll(gracePeriodMs: number): Promise<void> {
    await Promise.all([...this.held.values()].map((h) => this.stop({ instanceId: h.id, gracePeriodMs, generation: h.generation })));
  }

  /**
   * A copy restarted where it runs, the same copy to the control plane, as Nomad's template
   * change_mode "restart" restarts a task inside its allocation: its files changed, and a program
   * that reads them only at its start must start again. A rollout cannot do it: the control
   * plane does not know what a template renders to. Stopped with its grace period, started
   * again from what started it; a start that fails is the copy's failure. A copy adopted from a
   * previous run of the agent has no start request here: its files are written, it runs on
   * (logged).
   */
  private async restartInPlace(h: Held): Promise<void> {
    const req = h.req;
    if (!req) {
      this.log.warn("template configs rewritten; a copy adopted from a previous run is not restarted in place", { instance: h.id });
      return;
    }
    const old = h.running!;
    h.stopChecks?.();
    // Its exit is no failure: watchExit passes over a Running that is no longer the copy's.
    h.running = undefined;
    await old.stop(resolveSpec(req.spec).stopGracePeriodMs);
    try {
      const running = await this.executor.start(req);
      h.running = running;
      this.watchExit(h, running);
      await this.startChecks(h, req);
    } catch (err) {
      this.secretFiles?.remove(h.id);
      this.apply(h, { type: "fail", reason: `restarted in place for its template configs, it did not start again: ${(err as Error).message}` }, true);
    }
  }

  /** Applies an event to a held instance; reports the new state when the agent originated it. */
  private apply(h: Held, event: InstanceEvent, report: boolean): boolean {
    const result = transition(h.state, event);
    if (!result.ok) {
      this.log.warn("transition refused", { instance: h.id, from: h.state, event: event.type });
      return false;
    }
    h.state = result.state;
    if (event.type === "fail") {
      h.reason = event.reason;
      h.exitCode = event.exitCode;
      h.stderrTail = event.stderrTail;
    }
    if (report) {
      const reported = result.state as ReportedState;
      this.report({
        payload: {
          $case: "report",
          value: {
            instanceId: h.id,
            generation: h.generation,
            state: INSTANCE_STATE_TO_WIRE[reported],
            reason: event.type === "fail" ? event.reason : "",
            exitCode: event.type === "fail" || event.type === "finish" ? event.exitCode : undefined,
            stderrTail: event.type === "fail" ? (event.stderrTail ?? "") : "",
          },
        },
      });
    }
    return true;
  }

  /** Runs an instance's readiness checks while it runs, reporting each verdict change. */
  private async startChecks(h: Held, req: StartRequest): Promise<void> {
    const checks = req.spec.checks ?? [];
    if (checks.length === 0) return;
    const send = (check: Check, passing: boolean, detail: string) => {
      if (h.state !== "running") return;
      this.log.info(passing ? "check passing" : "check failing", { instance: h.id, check: check.name, detail });
      if (isLiveness(check)) {
        // The copy stopped working: end it; the control plane restarts it under its policy.
        if (!passing) void this.failLiveness(h, `liveness check ${check.name} failed: ${detail}`, req.spec);
        return;
      }
      this.report({ payload: { $case: "check", value: { instanceId: h.id, generation: h.generation, check: check.name, passing, detail } } });
    };
    const target = await this.executor.probeTarget(req).catch((err: Error) => {
      this.log.warn("cannot run checks", { instance: h.id, error: err.message });
      return null;
    });
    if (target === null) return;
    if (target === undefined) {
      for (const c of checks) send(c, true, "simulated");
      return;
    }
    h.stopChecks = runChecks(req, target, send);
  }

  /**
   * Ends a copy whose liveness check failed; watchExit reports it failed with that reason once
   * it has ended, so that the report carries how it ended and what it wrote to stderr.
   */
  private async failLiveness(h: Held, reason: string, spec: WorkloadSpec): Promise<void> {
    h.stopChecks?.();
    h.livenessFailure = reason;
    await h.running?.stop(resolveSpec(spec).stopGracePeriodMs);
  }

  /** An exit nobody asked for (or a liveness check caused) is a failure; one during a stop is handled by stop(). */
  private watchExit(h: Held, running: Running): void {
    void running.exited.then((exit) => {
      // Replaced by a restart in place: the copy runs on.
      if (h.running !== running) return;
      // However it ended (a stop, a failure): its secrets go with it.
      this.secretFiles?.remove(h.id);
      h.stopChecks?.();
      if (h.state !== "running") return;
      const fail = failOf(exit);
      this.apply(h, h.livenessFailure ? { ...fail, reason: `${h.livenessFailure} (then ${fail.reason})` } : fail, true);
    });
  }
}

/** The fail event of a copy that ended: how, and its stderr's tail when the executor read it. */
function failOf(exit: Exit): InstanceEvent & { type: "fail" } {
  const fail = { type: "fail" as const, reason: describeExit(exit), exitCode: exit.exitCode ?? undefined };
  return exit.stderrTail ? { ...fail, stderrTail: exit.stderrTail } : fail;
}
