/**
 * A simulated fleet around the pure core: agents that answer every effect at once (or never,
 * when their node is dead), a clock that only moves when told, and a record of every turn and
 * event. PURE (no I/O, no real clock). `tessera sim` compares placement strategies with it;
 * property tests and golden logs drive it too, so they hold the same driver to account.
 * Not to be confused with the agent's simulated executor (`--simulated`), which stands in for
 * process and docker on a real agent talking to a real control plane.
 */
import type { NodePorts } from "../core/model/ports.js";
import type { HostVolume } from "../core/model/volumes.js";
import type { Command } from "../core/decide/commands.js";
import type { Effect } from "../core/model/effects.js";
import { type Capacity, type ClusterState, emptyState, type NodeLimits } from "../core/model/cluster-state.js";
import type { ClusterEvent } from "../core/events/cluster-events.js";
import { isVolatile } from "../core/events/event-facts.js";
import { DEFAULT_POLICY, type Plan, type Policy } from "../core/reconcile/reconcile.js";
import { QuietWorkloads } from "../core/reconcile/quiet.js";
import { runTurn, type TurnResult } from "../core/reconcile/turn.js";

export interface FleetNode {
  name: string;
  capacity: Capacity;
  labels: Record<string, string>;
  /** What its agent advertises about ports; unset: none (as the golden logs were recorded). */
  ports?: NodePorts;
  /** The host volumes its agent declares; unset: none (as the golden logs were recorded). */
  volumes?: HostVolume[];
  /** Whether its agent enforces process copies' resources; unset: it says nothing (as the golden logs were recorded). */
  limits?: NodeLimits;
}

/** One recorded turn: its inputs, enough to replay it. */
export interface RecordedTurn {
  now: number;
  reconcile: boolean;
  commands: Command[];
}

export class SimulatedFleet {
  readonly state: ClusterState = emptyState();
  readonly events: ClusterEvent[] = [];
  readonly turns: RecordedTurn[] = [];
  readonly plans: Plan[] = [];
  now: number;
  /** Nodes whose agent neither heartbeats nor answers. */
  readonly dead = new Set<string>();
  /** Workloads whose readiness checks never pass (their copies run but are never Ready). */
  readonly failingChecks = new Set<string>();
  /** Whether a started copy's checks pass; a driver may judge by the spec it was started with. */
  checksPass: (start: Extract<Effect, { type: "StartInstance" }>) => boolean = (start) => !this.failingChecks.has(start.workload);
  /** What each live agent holds: instance id → generation. */
  readonly held = new Map<string, Map<string, number>>();
  private readonly sessions = new Map<string, number>();
  private readonly nodes = new Map<string, FleetNode>();
  private nextSession = 1;
  private inbox: Command[] = [];
  /** Every turn's result, for invariant checks. */
  onTurn: (result: TurnResult, fleet: SimulatedFleet) => void = () => {};
  /** Workloads passes leave out, as the writer keeps them (reconcile/quiet.ts); undefined: every pass plans every workload. */
  quiet: QuietWorkloads | undefined = new QuietWorkloads();

  constructor(
    readonly policy: Policy = DEFAULT_POLICY,
    start = 1_000_000,
    /** Keep turns, events and plans; off for long runs, where they would grow with every tick. */
    private readonly record = true,
  ) {
    this.now = start;
  }

  /** Runs one writer turn with the given commands plus whatever the agents reported. */
  turn(commands: Command[] = [], reconcile = true): TurnResult {
    const all = [...this.inbox, ...commands];
    this.inbox = [];
    if (this.record) this.turns.push({ now: this.now, reconcile, commands: structuredClone(all) });
    const result = runTurn(this.state, all, { now: this.now, policy: this.policy, reconcile, quiet: this.quiet });
    if (this.record) {
      this.events.push(...result.events);
      if (result.plan) this.plans.push(result.plan);
    }
    this.onTurn(result, this);
    this.deliver(result.effects);
    return result;
  }

  /** Turns until nothing is left to report and a reconcile pass changes nothing. */
  settle(maxTurns = 50): void {
    for (let i = 0; i < maxTurns; i++) {
      const r = this.turn();
      if (this.inbox.length === 0 && r.events.every(isVolatile)) return;
    }
    throw new Error(`fleet did not settle within ${maxTurns} turns`);
  }

  connect(node: FleetNode): void {
    this.nodes.set(node.name, node);
    this.dead.delete(node.name);
    const session = this.nextSession++;
    this.sessions.set(node.name, session);
    const held = this.held.get(node.name) ?? new Map<string, number>();
    this.held.set(node.name, held);
    this.inbox.push({
      type: "AgentConnected",
      node: node.name,
      session,
      executors: ["process", "docker"],
      version: "sim",
      labels: node.labels,
      capacity: node.capacity,
      ...(node.ports ? { ports: node.ports } : {}),
      ...(node.volumes ? { volumes: node.volumes } : {}),
      ...(node.limits ? { limits: node.limits } : {}),
      instances: [...held].map(([id, generation]) => ({ id, generation, state: "running" as const })),
    });
  }

  /**
   * The control plane crashes and comes back `downMs` later with what it had committed (every
   * turn commits): reports in flight are lost, no stream survives, and copies keep running.
   * Its first turn records that it listens again; live agents reconnect `reconnectMs` later,
   * their hellos carrying what they hold.
   */
  restart(downMs: number, reconnectMs: number): void {
    this.inbox = [];
    this.sessions.clear();
    this.now += downMs;
    this.turn([{ type: "StartListening", cause: "start" }]);
    this.advance(reconnectMs);
    for (const node of this.nodes.values()) if (!this.dead.has(node.name)) this.connect(node);
  }

  /** The node's agent stops answering (its processes keep running, as after a network cut). */
  kill(node: string): void {
    this.dead.add(node);
  }

  /** Moves the clock; live agents heartbeat once per second, and the periodic reconcile ticks. */
  advance(ms: number): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now = Math.min(end, this.now + 1_000);
      this.turn(this.heartbeats(), true);
    }
  }

  /** A heartbeat from every live agent, as of now; a driver that jumps the clock sends them itself. */
  heartbeats(): Command[] {
    const beats: Command[] = [];
    for (const [node, session] of this.sessions) if (!this.dead.has(node)) beats.push({ type: "Heartbeat", node, session });
    return beats;
  }

  /** An instance exits on its own on its node. */
  crash(instanceId: string, exitCode = 1): void {
    const inst = this.state.instances.get(instanceId);
    if (!inst?.node || this.dead.has(inst.node)) return;
    this.held.get(inst.node)?.delete(instanceId);
    this.inbox.push({ type: "ReportInstance", node: inst.node, instanceId, generation: inst.generation, state: "failed", reason: `exited with code ${exitCode}`, exitCode });
  }

  private deliver(effects: Effect[]): void {
    for (const e of effects) {
      if (this.dead.has(e.node)) continue;
      if (e.type === "DisconnectNode") {
        // A live agent whose stream was cut reconnects at once.
        this.connect(this.nodes.get(e.node)!);
        continue;
      }
      // Nothing runs to read files or take a signal.
      if (e.type === "RefreshSecrets") continue;
      const held = this.held.get(e.node)!;
      const report = (state: "provisioning" | "running" | "stopped") =>
        this.inbox.push({ type: "ReportInstance", node: e.node, instanceId: e.instanceId, generation: e.generation, state, reason: "" });
      if (e.type === "StartInstance") {
        held.set(e.instanceId, e.generation);
        report("provisioning");
        report("running");
        if (this.checksPass(e)) {
          for (const check of e.spec.checks ?? []) {
            this.inbox.push({ type: "ReportCheck", node: e.node, instanceId: e.instanceId, generation: e.generation, check: check.name, passing: true });
          }
        }
      } else {
        held.delete(e.instanceId);
        report("stopped");
      }
    }
  }
}
