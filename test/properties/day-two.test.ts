/**
 * Day two, model-based (issues 25 and 26): random sequences of what operators do — apply (new
 * and changed specs, good, crash-looping or never Ready, with canaries, soak and waves), delete
 * and re-create under the same name, rollout undo/restart/promote/pause/resume,
 * cordon/drain/uncordon, an agent restarting, a second agent joining, the control plane
 * restarting — driven through the simulated fleet against a small model of what was asked.
 * After every turn and every step the invariants numbered 23, 24 and 26–31 in ARCHITECTURE.md are checked.
 *
 * Fixed seed, printed; TESSERA_MODEL_SEED, TESSERA_MODEL_RUNS and TESSERA_MODEL_STEPS run it
 * longer or elsewhere.
 */
import { describe, test } from "bun:test";
import fc from "fast-check";
import type { Command } from "../../src/core/decide/commands.js";
import type { Effect } from "../../src/core/model/effects.js";
import type { Instance, Workload } from "../../src/core/model/cluster-state.js";
import type { ClusterEvent } from "../../src/core/events/cluster-events.js";
import { isReady, runsCurrentTemplate } from "../../src/core/model/cluster-status.js";
import { touches } from "../../src/core/events/event-facts.js";
import { answerDns } from "../../src/core/views/dns-answers.js";
import { endpointsOf } from "../../src/core/views/endpoints.js";
import { rolloutRevisions, specAtRevision } from "../../src/core/events/rollout-history.js";
import { type ResolvedSpec, resolveSpec } from "../../src/core/model/spec.js";
import { waveOf } from "../../src/core/reconcile/waves.js";
import { predatesRestart } from "../../src/core/reconcile/copies.js";
import type { TurnResult } from "../../src/core/reconcile/turn.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { workloadStatus } from "../../src/core/views/workload-status.js";
import { behaviourOf, FIRST_NODES, isRolloutStop, Model, NAMES, type Op, opArb, readyReplicas, SECOND_AGENT, specOf, tokenOf } from "./day-two-model.js";

const SEED = Number(process.env.TESSERA_MODEL_SEED ?? 20261206);
const RUNS = Number(process.env.TESSERA_MODEL_RUNS ?? 300);
const STEPS = Number(process.env.TESSERA_MODEL_STEPS ?? 24);
console.log(`day-two model: fast-check seed ${SEED}, ${RUNS} runs of up to ${STEPS} steps (TESSERA_MODEL_SEED / _RUNS / _STEPS to change)`);

/** What one turn's checks read of one workload. */
interface TurnView {
  r: TurnResult;
  w: Workload;
  spec: ResolvedSpec;
  copies: Instance[];
  /** The turn's stops, by copy, with their reasons. */
  stopped: Map<string, string>;
}

class Run {
  readonly fleet = new SimulatedFleet();
  readonly model = new Model();
  /** Every copy's token, from the StartInstance that started it. */
  private readonly copyToken = new Map<string, string>();
  /** Copies already on an undo's target template: the rollout that follows keeps them (invariant 28). */
  private keep = new Set<string>();
  private joined = false;
  /**
   * Per workload whose current spec is bad (crashes at start or never Ready), how many copies
   * were Ready when it was applied; dropped when anything else may take copies away.
   */
  private readonly badDeploy = new Map<string, { token: string; ready: number }>();
  /** The copies Ready when the last turn ended. */
  private wasReady = new Set<string>();

  constructor(private readonly log: string[]) {
    // A binary that crashes at start never answers its readiness check either.
    this.fleet.checksPass = (start) => behaviourOf(start.spec) === "good";
    this.fleet.onTurn = (r) => this.checkTurn(r);
    for (const n of FIRST_NODES) this.fleet.connect(n);
    this.fleet.settle();
  }

  private copies(name: string): Instance[] {
    return [...this.fleet.state.instances.values()].filter((i) => i.workload === name);
  }

  /** Invariants checked after every turn. */
  private checkTurn(r: TurnResult): void {
    const { fleet, model } = this;
    for (const e of r.effects as Effect[]) {
      if (e.type !== "StartInstance") continue;
      const token = tokenOf(e.spec);
      this.copyToken.set(e.instanceId, token);
      // 27: no copy of a deleted incarnation's spec ever starts again.
      if (model.deleted.has(token)) this.fail(`27: ${e.instanceId} started with ${token}, a spec of a deleted incarnation`);
    }
    for (const e of r.events) this.noteRevision(e);
    // 30 for auto_revert: from here on, the copies already on the restored spec are the ones kept.
    for (const e of r.events) {
      const w = e.type === "RolloutReverted" ? fleet.state.workloads.get(e.name) : undefined;
      if (w !== undefined) this.keep = new Set([...[...this.keep].filter((id) => this.fleet.state.instances.get(id)?.workload !== w.name), ...this.keptBy(w, tokenOf(w.spec))]);
    }
    const stopped = new Map((r.plan?.stop ?? []).map((s) => [s.instance, s.reason]));
    for (const name of NAMES) {
      const w = fleet.state.workloads.get(name);
      if (!w || w.deleting) continue;
      const t: TurnView = { r, w, spec: resolveSpec(w.spec), copies: this.copies(name), stopped };
      this.checkBudget(t);
      this.checkQuarantine(t);
      this.checkReadyCount(t);
      this.checkUndoKeeps(t);
      this.checkWaves(t);
    }
    this.wasReady = new Set([...fleet.state.instances.values()].filter(isReady).map((i) => i.id));
    // Copies of crash-looping specs fail as soon as they run.
    for (const i of fleet.state.instances.values()) if (i.state === "running" && this.model.behaviour.get(this.copyToken.get(i.id) ?? "") === "crash") fleet.crash(i.id, 1);
  }

  /**
   * 28: a rollout's own stops of Ready copies never take Ready copies below replicas −
   * max_unavailable (or below what there was, when a scale-up left fewer), and a bad deploy
   * (copies that crash at start or never pass their checks) never does either, checks or not.
   * Counted in replicas with a Ready copy, as the budget counts them: a replica's old copy
   * stopped once its new one is Ready leaves it served.
   */
  private checkBudget({ w, spec: s, copies, stopped }: TurnView): void {
    const floor = s.replicas - Math.min(s.maxUnavailable, s.replicas);
    const ready = readyReplicas(copies, () => true);
    const before = readyReplicas(copies, (i) => this.wasReady.has(i.id));
    const rolloutStops = copies.filter((i) => this.wasReady.has(i.id) && isRolloutStop(stopped.get(i.id) ?? ""));
    if (rolloutStops.length > 0 && ready < Math.min(floor, before)) this.fail(`28: ${w.name}: ${rolloutStops.map((i) => `${i.id} (${stopped.get(i.id)})`).join(", ")} stopped leaving ${ready} replicas Ready, floor ${floor}`);
    // Watched while the bad spec is the one wanted (a revert ends it).
    const bad = this.badDeploy.get(w.name);
    if (bad?.token === tokenOf(w.spec) && ready < Math.min(floor, bad.ready)) this.fail(`28: ${w.name}: a bad deploy (${behaviourOf(w.spec)}) left ${ready} replicas Ready, floor ${floor}, ${bad.ready} when it was applied`);
  }

  /** 26: a spec that never crashed is never held by a quarantine (an older spec's, or a deleted incarnation's). */
  private checkQuarantine({ r, w }: TurnView): void {
    if (behaviourOf(w.spec) === "crash") return;
    const held = [...(r.plan?.pend ?? []), ...(r.plan?.skip ?? [])].filter((x) => x.workload === w.name && /quarantin/.test(x.reason));
    if (held.length > 0) this.fail(`26: ${w.name} on ${tokenOf(w.spec)} held by a quarantine: ${held[0]!.reason}`);
  }

  /** 31: READY counts every Ready copy that serves, whichever template it runs. */
  private checkReadyCount({ w, copies }: TurnView): void {
    const shown = workloadStatus(this.fleet.state, w, copies, this.fleet.now).ready;
    const serving = copies.filter((i) => i.desired === "run" && isReady(i)).length;
    if (shown !== serving) this.fail(`31: ${w.name} shows READY ${shown} with ${serving} Ready copies serving`);
  }

  /**
   * 30: undo and auto_revert keep the copies already on their target template (a drain still
   * moves them); the newest of the eras saying which template a copy runs is the current one.
   */
  private checkUndoKeeps({ w, stopped }: TurnView): void {
    for (const id of this.keep) if (isRolloutStop(stopped.get(id) ?? "") && !this.onDrainingNode(id)) this.fail(`30: ${id} already on the undo's target was stopped: ${stopped.get(id)}`);
    if (w.eras.at(-1)?.template !== w.templateGeneration) this.fail(`30: ${w.name}'s newest era runs template ${w.eras.at(-1)?.template}, not the current ${w.templateGeneration}`);
  }

  /**
   * 29: while old copies remain, new copies go only to waves that have started (before the
   * first starts, the lowest wave that has old copies opens: those before it have none).
   */
  private checkWaves({ r, w, spec: s, copies }: TurnView): void {
    if (s.waves.length === 0) return;
    const waveOfNode = (n: string | null) => (n === null ? Number.POSITIVE_INFINITY : waveOf(s.waves, this.fleet.state.nodes.get(n)));
    const old = copies.filter((i) => i.desired === "run" && i.state !== "failed" && !runsCurrentTemplate(w, i));
    if (old.length === 0) return;
    const open = w.wave >= 0 ? w.wave : Math.min(...old.map((i) => waveOfNode(i.node)));
    for (const p of r.plan?.place ?? []) {
      // A copy of the spec a held canary keeps (a drained old copy moving) is not the new version.
      if (p.workload !== w.name || !runsCurrentTemplate(w, { generation: p.generation } as Instance)) continue;
      const wave = waveOfNode(p.node);
      if (wave > open) this.fail(`29: ${w.name} placed a copy on ${p.node} (wave ${wave + 1}) while only waves up to ${open + 1} are open`);
    }
  }

  /** Invariants checked after every step. */
  private checkStep(): void {
    for (const name of NAMES) {
      // 24: each DNS name the agents answer stands for one copy: SRV targets distinct, each
      // target's A record its copy's host alone, a replica's name one address.
      const endpoints = endpointsOf(this.fleet.state, name);
      const ask = (q: string, type: string) => answerDns({ name: q, type }, (w) => (w === name ? endpoints : []));
      const targets = ask(`_http._tcp.${name}.tessera`, "SRV").answers.flatMap((r) => (r.type === "SRV" ? [r.data.target] : []));
      if (new Set(targets).size !== targets.length) this.fail(`24: ${name}'s SRV answer names a target twice: ${targets.join(", ")}`);
      for (const t of [...targets, ...endpoints.map((e) => `${e.name}.${name}.tessera`)]) {
        const a = ask(t, "A").answers.filter((r) => r.type === "A");
        if (a.length > 1) this.fail(`24: ${t} answers ${a.length} addresses`);
      }
      const w = this.fleet.state.workloads.get(name);
      if (!w || w.deleting) continue;
      const revs = this.model.revisions.get(name);
      // A restart is a row of its own, at the generation it restarted.
      const history = rolloutRevisions(this.eventsOf(name)).filter((h) => h.cause !== "restart");
      // 23: history belongs to one incarnation of a name: each revision once, each of the current incarnation.
      const seen = new Set<number>();
      for (const h of history) {
        if (seen.has(h.revision)) this.fail(`23: ${name} lists revision ${h.revision} twice`);
        seen.add(h.revision);
        if (!revs?.has(h.revision)) this.fail(`23: ${name} lists revision ${h.revision}, not one of this incarnation (${[...(revs?.keys() ?? [])].join(", ")})`);
      }
    }
  }

  /** Whether the copy is on a node being drained (a drain moves what undo would keep). */
  private onDrainingNode(id: string): boolean {
    const node = this.fleet.state.instances.get(id)?.node;
    return node !== null && node !== undefined && this.fleet.state.nodes.get(node)?.draining === true;
  }

  /** The log of one name, as the store indexes it. */
  private eventsOf(name: string) {
    return this.fleet.events.filter((e) => touches(e).workload === name);
  }

  private fail(message: string): never {
    throw new Error(`${message}\n  after: ${this.log.slice(-8).join(" | ")}`);
  }

  private turn(commands: Command[]): TurnResult {
    return this.fleet.turn(commands);
  }

  /** Records a change of what runs (an apply, an undo, a revert) as a revision of the name's incarnation. */
  private noteRevision(e: ClusterEvent): void {
    const { model } = this;
    const revisions = (name: string) => model.revisions.get(name) ?? model.revisions.set(name, new Map()).get(name)!;
    if (e.type === "WorkloadApplied" && (e.workload.templateGeneration === e.workload.generation || e.previousSpec !== undefined)) revisions(e.workload.name).set(e.workload.generation, tokenOf(e.workload.spec));
    if (e.type === "RolloutReverted") revisions(e.name).set(e.generation, tokenOf(this.fleet.state.workloads.get(e.name)?.spec));
  }

  perform(op: Op): void {
    const { fleet, model } = this;
    this.log.push(JSON.stringify(op));
    // Only an apply of a bad spec followed by time passing keeps a bad deploy under watch.
    if (op.op !== "apply" && op.op !== "advance") this.badDeploy.clear();
    switch (op.op) {
      case "apply": {
        const name = NAMES[op.w]!;
        this.keep = new Set();
        // What serves to stay: copies of good specs not already being stopped (an earlier
        // rollout's stops, or a crashing copy, are not the new spec's doing).
        const readyBefore = readyReplicas(this.copies(name), (i) => i.desired === "run" && model.behaviour.get(this.copyToken.get(i.id) ?? "") === "good");
        this.badDeploy.delete(name);
        const token = model.token(op.v.behaviour);
        const r = this.turn([{ type: "ApplyWorkload", name, labels: {}, spec: specOf(op.v, token) }]);
        // A spec that opts out of the soak without checks (minHealthyTime 0) is available the
        // moment it runs: a crash at start is the user's to see, as in Nomad and Kubernetes.
        const unprotected = op.v.behaviour === "crash" && op.v.soakS === 0 && !op.v.checks;
        if (op.v.behaviour !== "good" && !unprotected && r.decisions[0]?.rejection === undefined) this.badDeploy.set(name, { token, ready: readyBefore });
        break;
      }
      case "delete": {
        const name = NAMES[op.w]!;
        this.keep = new Set();
        const r = this.turn([{ type: "DeleteWorkload", name }]);
        if (r.events.some((e) => e.type === "WorkloadDeleteRequested")) {
          for (const t of model.revisions.get(name)?.values() ?? []) model.deleted.add(t);
          model.revisions.delete(name);
        }
        break;
      }
      case "undo":
        this.undo(NAMES[op.w]!, op.pick);
        break;
      case "restart":
      case "promote":
      case "pause":
      case "resume": {
        const name = NAMES[op.w]!;
        if (!fleet.state.workloads.has(name)) break;
        const command: Command =
          op.op === "restart" ? { type: "RestartWorkload", name } : op.op === "promote" ? { type: "PromoteRollout", name, by: "model" } : { type: "PauseRollout", name, paused: op.op === "pause", by: "model" };
        if (op.op === "restart") this.keep = new Set();
        this.turn([command]);
        break;
      }
      case "cordon":
      case "uncordon":
      case "drain": {
        const type = op.op === "cordon" ? "CordonNode" : op.op === "uncordon" ? "UncordonNode" : "DrainNode";
        this.turn([{ type, node: FIRST_NODES[op.n]!.name }]);
        break;
      }
      case "agent-restart":
        fleet.connect(FIRST_NODES[op.n]!);
        fleet.turn();
        break;
      case "second-agent":
        if (!this.joined) fleet.connect(SECOND_AGENT);
        this.joined = true;
        fleet.turn();
        break;
      case "control-restart":
        fleet.restart(op.downMs, 1_000);
        break;
      case "advance":
        fleet.advance(op.ms);
        break;
    }
    this.checkStep();
  }

  /**
   * The copies going back to `token` keeps (30): every copy wanted that runs it, whatever went
   * before (an apply, an undo or a revert still under way); a restart's own replacements aside.
   */
  private keptBy(w: Workload, token: string): Set<string> {
    return new Set(this.copies(w.name).filter((i) => i.desired === "run" && this.copyToken.get(i.id) === token && !predatesRestart(w, i)).map((i) => i.id));
  }

  /** `rollout undo`: to a revision of this incarnation the model knows (pick), or to the one before (0). */
  private undo(name: string, pick: number): void {
    const { fleet, model } = this;
    const w = fleet.state.workloads.get(name);
    if (!w || w.deleting) return;
    const history = rolloutRevisions(this.eventsOf(name)).filter((h) => h.cause !== "restart");
    const target = pick % (history.length + 1);
    if (target === 0) {
      this.keep = this.keptBy(w, tokenOf(w.previousSpec ?? undefined));
      this.turn([{ type: "RollbackWorkload", name }]);
      return;
    }
    const revision = history[target - 1]!.revision;
    // As the control plane answers `rollout undo --to-revision`: the revision's spec, read back from the log.
    const spec = specAtRevision(this.eventsOf(name), revision);
    const token = model.revisions.get(name)?.get(revision);
    if (token === undefined) this.fail(`23: ${name}'s history offers revision ${revision}, not one of this incarnation`);
    if (spec === undefined) this.fail(`23: ${name}'s revision ${revision} has no spec to go back to`);
    if (tokenOf(spec) !== token) this.fail(`23: ${name}'s revision ${revision} reads back ${tokenOf(spec)}, but it ran ${token}`);
    this.keep = this.keptBy(w, token!);
    const r = this.turn([{ type: "RollbackWorkload", name, to: { revision, spec: spec! } }]);
    // 23: undo brings back exactly the revision asked for.
    if (r.decisions[0]?.rejection === undefined && tokenOf(fleet.state.workloads.get(name)?.spec) !== token) this.fail(`23: undo of ${name} to revision ${revision} runs ${tokenOf(fleet.state.workloads.get(name)?.spec)}, not ${token}`);
    if (model.deleted.has(token)) this.fail(`27: undo of ${name} to revision ${revision} brought back ${token}, a spec of a deleted incarnation`);
  }
}

describe("day two: operator sequences (model-based)", () => {
  test("23, 24 and 26–31 hold after every turn of any sequence of operator actions", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: STEPS }), (ops) => {
        const log: string[] = [];
        const run = new Run(log);
        for (const op of ops) run.perform(op);
      }),
      { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
    );
  });
});
