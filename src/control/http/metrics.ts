/**
 * Prometheus metrics of one control plane (prom-client), in a registry of its own so several
 * control planes can live in one process (tests).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { INSTANCE_STATES } from "../../core/model/instance-machine.js";
import type { ClusterView } from "../../core/model/cluster-state.js";
import type { UsageBoard } from "../writer/usage-board.js";
import { fleetHeartbeat, type HeartbeatPolicy } from "../../core/model/heartbeat.js";

const HEALTHS = ["ready", "suspect", "offline"] as const;
/**
 * prom-client's per-heap-space gauges call v8.getHeapSpaceStatistics(), which under Bun walks
 * the whole heap: ~400 ms with 3 million objects, the event loop (and so the writer) stalled on
 * every scrape. The process heap gauges (process.memoryUsage(), microseconds) stay.
 */
const HEAP_WALKING = ["total", "used", "available"].map((m) => `tessera_nodejs_heap_space_size_${m}_bytes`);
/** Interval of the event-loop lag samples. */
const LAG_SAMPLE_MS = 100;
/** From 100 µs to 10 s. */
const SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Metrics {
  readonly registry = new Registry();
  private readonly nodes = new Gauge({ name: "tessera_nodes", help: "Nodes by health", labelNames: ["health"], registers: [this.registry] });
  private readonly instances = new Gauge({ name: "tessera_instances", help: "Instances by observed state", labelNames: ["state"], registers: [this.registry] });
  private readonly reconcile = new Histogram({ name: "tessera_reconcile_duration_seconds", help: "Duration of one writer turn's reconcile pass", buckets: SECONDS, registers: [this.registry] });
  private readonly placements = new Counter({ name: "tessera_placements_total", help: "Instances placed on a node", registers: [this.registry] });
  private readonly rpc = new Histogram({ name: "tessera_rpc_duration_seconds", help: "ControlPlane call latency by method and status code", labelNames: ["method", "code"], buckets: SECONDS, registers: [this.registry] });
  private readonly commit = new Histogram({ name: "tessera_store_commit_duration_seconds", help: "Duration of one SQLite transaction of the writer", buckets: SECONDS, registers: [this.registry] });
  private readonly epoch = new Gauge({ name: "tessera_lease_epoch", help: "Epoch of the lease this control plane leads in (0 on SQLite, which has none)", registers: [this.registry] });
  private readonly applied = new Gauge({ name: "tessera_applied_seq", help: "Sequence number of the newest committed event in this control plane's state (its commits as the leader, those it followed as a standby)", registers: [this.registry] });
  private readonly behind = new Gauge({ name: "tessera_behind_events", help: "Committed events this control plane has heard of and not yet applied (0 on the leader)", registers: [this.registry] });
  private readonly role = new Gauge({ name: "tessera_role", help: "1 for this control plane's role (leader or standby), 0 for the other", labelNames: ["role"], registers: [this.registry] });
  // The fleet's heartbeat interval and the thresholds that follow it (heartbeat.ts), as agents are told and nodes judged now.
  private readonly heartbeatInterval = new Gauge({ name: "tessera_heartbeat_interval_seconds", help: "Interval the fleet heartbeats at (1: each agent at its own --heartbeat)", registers: [this.registry] });
  private readonly suspectAfter = new Gauge({ name: "tessera_node_suspect_after_seconds", help: "Silence after which a node is Suspect, for the fleet's size", registers: [this.registry] });
  private readonly offlineAfter = new Gauge({ name: "tessera_node_offline_after_seconds", help: "Silence after which a node is Offline, for the fleet's size", registers: [this.registry] });
  private readonly terms = new Counter({ name: "tessera_leader_terms_total", help: "Times this control plane began leading", registers: [this.registry] });
  // What copies use, summed per workload and per node (never per copy: the label sets stay as
  // small as the fleet's workloads and nodes). From the agents' last samples, on the leader.
  private readonly workloadCpu = new Gauge({ name: "tessera_workload_cpu_millicores", help: "CPU its running copies use, in millicores, as their agents last sampled it", labelNames: ["workload"], registers: [this.registry] });
  private readonly workloadMemory = new Gauge({ name: "tessera_workload_memory_bytes", help: "Memory (working set) its running copies use, as their agents last sampled it", labelNames: ["workload"], registers: [this.registry] });
  private readonly nodeCpu = new Gauge({ name: "tessera_node_cpu_millicores", help: "CPU the copies on the node use, in millicores, as its agent last sampled it", labelNames: ["node"], registers: [this.registry] });
  private readonly nodeMemory = new Gauge({ name: "tessera_node_memory_bytes", help: "Memory (working set) the copies on the node use, as its agent last sampled it", labelNames: ["node"], registers: [this.registry] });

  constructor() {
    // The event-loop lag histogram samples on a timer: at prom-client's default 10 ms it was
    // about half of an idle control plane's CPU; 10 samples a second still catch every stall
    // worth a scrape.
    collectDefaultMetrics({ register: this.registry, prefix: "tessera_", eventLoopMonitoringPrecision: LAG_SAMPLE_MS });
    for (const name of HEAP_WALKING) this.registry.removeSingleMetric(name);
  }

  /**
   * Sets the gauges from the current state (every label value, zeros included), usage when this
   * control plane hears the agents (`usage`), and the heartbeat's timing for the fleet's size
   * under `heartbeat`.
   */
  observeState(state: ClusterView, usage?: UsageBoard, heartbeat?: HeartbeatPolicy): void {
    this.observeUsage(usage?.totals(state));
    if (heartbeat) {
      const t = fleetHeartbeat(state, heartbeat);
      this.heartbeatInterval.set(t.intervalMs / 1_000);
      this.suspectAfter.set(t.suspectAfterMs / 1_000);
      this.offlineAfter.set(t.offlineAfterMs / 1_000);
    }
    const byHealth = new Map<string, number>(HEALTHS.map((h) => [h, 0]));
    for (const n of state.nodes.values()) byHealth.set(n.health, byHealth.get(n.health)! + 1);
    for (const [health, count] of byHealth) this.nodes.set({ health }, count);
    const byState = new Map<string, number>(INSTANCE_STATES.map((s) => [s, 0]));
    for (const i of state.instances.values()) byState.set(i.state, byState.get(i.state)! + 1);
    for (const [s, count] of byState) this.instances.set({ state: s }, count);
  }

  /** Usage per workload and node; series of workloads and nodes gone (or none heard) go. */
  private observeUsage(totals: ReturnType<UsageBoard["totals"]> | undefined): void {
    for (const g of [this.workloadCpu, this.workloadMemory, this.nodeCpu, this.nodeMemory]) g.reset();
    if (!totals) return;
    for (const [workload, u] of totals.workloads) {
      this.workloadCpu.set({ workload }, u.cpuMillis);
      this.workloadMemory.set({ workload }, u.memoryBytes);
    }
    for (const [node, u] of totals.nodes) {
      this.nodeCpu.set({ node }, u.cpuMillis);
      this.nodeMemory.set({ node }, u.memoryBytes);
    }
  }

  observeReconcile(seconds: number, placed: number): void {
    this.reconcile.observe(seconds);
    if (placed > 0) this.placements.inc(placed);
  }

  observeRpc(method: string, code: string, seconds: number): void {
    this.rpc.observe({ method, code }, seconds);
  }

  /** This control plane leads from now on, in `epoch`. */
  observeTerm(epoch: number): void {
    this.epoch.set(epoch);
    this.terms.inc();
    this.observeRole("leader");
  }

  /** This control plane stands by from now on, following the leader's commits. */
  observeStandby(): void {
    this.observeRole("standby");
  }

  private observeRole(role: "leader" | "standby"): void {
    this.role.set({ role: "leader" }, role === "leader" ? 1 : 0);
    this.role.set({ role: "standby" }, role === "standby" ? 1 : 0);
    if (role === "leader") this.behind.set(0);
  }

  /** This control plane's state holds the events up to `seq`; `behind` more are committed that it has heard of. */
  observeApplied(seq: number, behind = 0): void {
    this.applied.set(seq);
    this.behind.set(behind);
  }

  observeCommit(seconds: number): void {
    this.commit.observe(seconds);
  }
}
