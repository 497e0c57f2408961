/**
 * Benchmark 12, resource limits (issue 31), through dist/tessera with the process executor, as
 * root: (a) apply → Running of a one-replica process workload stating resources, on an agent
 * that holds it in cgroups against the same spec on an agent that does not (`--cgroups off
 * --allow-unenforced-limits`), sampled alternately in the same run; (b) the limiting agent's
 * own CPU (/proc/PID/stat) over a window while 100 copies run (each in its cgroup, their usage
 * sampled and sent every few seconds), against the same agent with none, in the same run.
 */
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { ControlPlaneClient, type WatchResponse } from "../../src/gen/tessera/v1/control_plane.js";
import { type Event as WireEvent, Workload } from "../../src/gen/tessera/v1/types.js";
import { adminChannel, eventually, Harness, requireBinary, type Server } from "../e2e/harness.js";
import { metric, Waiters } from "./fleet.js";
import { CLOCK_TICKS_PER_S, cells, cpuTicks, percentile, round, type Section, stats, verdict } from "./report.js";

/** The two agents, by the label value their copies are pinned to. */
const SIDES = ["limited", "unlimited"] as const;
type Side = (typeof SIDES)[number];
/** What every measured copy states: both agents get the same spec. */
const RESOURCES = { cpuMillis: 100, memoryMb: 64 };
/** The many copies of (b): small, so 100 fit a small machine's offer. */
const MANY_RESOURCES = { cpuMillis: 10, memoryMb: 16 };

export interface LimitsOptions {
  /** Start samples per side per run. */
  samples: number;
  /** Copies running while the agent's CPU is read. */
  copies: number;
  /** Idle time after the copies are Running (or before, for the baseline), before CPU is read. */
  settleMs: number;
  /** The window over which the agent's CPU is read. */
  cpuWindowMs: number;
}

export interface LimitsRun {
  /** p50 of apply → Running per side, ms. */
  limitedP50: number;
  unlimitedP50: number;
  /** The limiting agent's CPU, % of one core: with `copies` running, and with none. */
  agentCpuPct: number;
  agentIdleCpuPct: number;
}

const spec = (side: Side, replicas: number, resources = RESOURCES) => ({ command: "/bin/sleep", args: ["3600"], replicas, resources, nodeSelector: { bench: side } });
const isRun = (e: WireEvent) => e.type === "InstanceTransitioned" && (JSON.parse(e.detail) as { event: { type: string } }).event.type === "run";

/** The agent's CPU over `windowMs`, % of one core. */
async function cpuPct(pid: number, windowMs: number): Promise<number> {
  const before = cpuTicks(pid);
  const t0 = performance.now();
  await Bun.sleep(windowMs);
  return ((cpuTicks(pid) - before) / CLOCK_TICKS_PER_S / ((performance.now() - t0) / 1000)) * 100;
}

export async function runLimits(runs: number, opts: LimitsOptions): Promise<LimitsRun[]> {
  requireBinary();
  if (process.getuid?.() !== 0) throw new Error("the limits benchmark makes cgroups: run it as root");
  const h = new Harness("tessera-bench-limits-");
  let watch: ReturnType<ControlPlaneClient["watch"]> | undefined;
  let client: ControlPlaneClient | undefined;
  try {
    const { address, metricsAddress } = await h.startControl("127.0.0.1:0", { TESSERA_LOG: "info" });
    const env = { TESSERA_CONTROL: address };
    // Room for any number of copies: capacity is not what this measures.
    const agent = (side: Side, flags: string[]) =>
      h.start(["agent", "--control", address, "--name", side, "--data-dir", join(h.dir, side), "--label", `bench=${side}`, "--cpu-millis", "1000000", "--memory-mb", "1000000", ...flags], { TESSERA_LOG: "info" });
    const limited: Server = agent("limited", []);
    await limited.waitForLog((l) => l.msg === "limits enforced");
    agent("unlimited", ["--cgroups", "off", "--allow-unenforced-limits"]);
    await eventually("both nodes Ready", async () => ((await h.run(["ctl", "get", "nodes"], env)).stdout.match(/\bReady\b/g)?.length === 2 ? true : undefined), 15_000);

    const { creds, options } = adminChannel(join(h.dir, "control"));
    client = new ControlPlaneClient(address, creds, options);
    const events = new Waiters<WireEvent>();
    watch = client.watch({ afterSequence: 0, workload: "" });
    watch.on("data", (r: WatchResponse) => r.event && events.deliver(r.event.workload, r.event));
    watch.on("error", (err: { code?: number }) => {
      if (err.code !== status.CANCELLED) throw new Error(`the benchmark's Watch failed: ${String(err)}`);
    });
    const call = <T>(f: (cb: (err: Error | null) => void) => T) => new Promise<void>((resolve, reject) => f((err) => (err ? reject(err) : resolve())));
    const apply = (name: string, s: ReturnType<typeof spec>) => call((cb) => client!.applyWorkloads({ workloads: [Workload.fromPartial({ name, spec: s })] }, cb));
    const remove = async (name: string) => {
      const gone = events.wait(name, (e) => e.type === "WorkloadRemoved");
      await call((cb) => client!.deleteWorkload({ name }, cb));
      await gone;
    };
    /** apply → the copy reported Running, ms; then deleted, untimed, so every sample meets an empty node. */
    const sample = async (side: Side, name: string) => {
      const running = events.wait(name, isRun);
      const t0 = performance.now();
      await apply(name, spec(side, 1));
      const ms = (await running) - t0;
      await remove(name);
      return ms;
    };
    const runningCopies = async () => metric(await (await fetch(`http://${metricsAddress}/metrics`)).text(), "tessera_instances", 'state="running"');

    // One untimed start on each side: the first copy of an agent pays for what it sets up once.
    for (const side of SIDES) await sample(side, `warm-${side}`);
    const out: LimitsRun[] = [];
    for (let r = 0; r < runs; r++) {
      const times: Record<Side, number[]> = { limited: [], unlimited: [] };
      for (let i = 0; i < opts.samples; i++) {
        // Alternate which side goes first, so drift in the machine's speed is shared fairly.
        for (const side of i % 2 === 0 ? SIDES : [...SIDES].reverse()) times[side].push(await sample(side, `start-${side}-${r}-${i}`));
      }

      await Bun.sleep(opts.settleMs);
      const agentIdleCpuPct = await cpuPct(limited.proc.pid, opts.cpuWindowMs);
      const many = `many-${r}`;
      await apply(many, spec("limited", opts.copies, MANY_RESOURCES));
      await eventually(`${opts.copies} copies Running`, async () => ((await runningCopies()) >= opts.copies ? true : undefined), 60_000, 100);
      await Bun.sleep(opts.settleMs);
      const agentCpuPct = await cpuPct(limited.proc.pid, opts.cpuWindowMs);
      await remove(many);
      await eventually("every copy gone", async () => ((await runningCopies()) === 0 ? true : undefined), 60_000, 100);

      const run = { limitedP50: percentile(times.limited, 50), unlimitedP50: percentile(times.unlimited, 50), agentCpuPct, agentIdleCpuPct };
      console.log(`run ${r + 1}/${runs}: start p50 with limits ${run.limitedP50.toFixed(1)} ms, without ${run.unlimitedP50.toFixed(1)} ms; agent CPU with ${opts.copies} copies ${agentCpuPct.toFixed(2)} %, with none ${agentIdleCpuPct.toFixed(2)} %`);
      out.push(run);
    }
    return out;
  } finally {
    watch?.cancel();
    client?.close();
    await h.stop();
  }
}

const FULL: LimitsOptions = { samples: 50, copies: 100, settleMs: 5_000, cpuWindowMs: 15_000 };
const GOAL_RATIO = 1.2;
const GOAL_CPU_PCT = 2;

export async function benchLimits(runs: number): Promise<Section> {
  const all = await runLimits(runs, FULL);
  const of = (key: keyof LimitsRun) => stats(all.map((r) => r[key]));
  const s = { limitedP50Ms: of("limitedP50"), unlimitedP50Ms: of("unlimitedP50"), agentCpuPct: of("agentCpuPct"), agentIdleCpuPct: of("agentIdleCpuPct") };
  const perRun = stats(all.map((r) => r.limitedP50 / r.unlimitedP50));
  const cpuRatio = s.agentIdleCpuPct.median > 0 ? `${round(s.agentCpuPct.median / s.agentIdleCpuPct.median, 1)}` : "n/a (baseline 0)";
  return {
    name: "limits",
    order: 12,
    results: { settings: FULL, resources: RESOURCES, manyResources: MANY_RESOURCES, goalRatio: GOAL_RATIO, goalCpuPct: GOAL_CPU_PCT, ...s, limitedOverUnlimited: perRun, runs: all },
    markdown: `## 12. Resource limits: a process copy's start in cgroups, and the agent with ${FULL.copies} copies

One control plane and two agents with the process executor (dist/tessera, as root): one holds
its copies in cgroups (memory, CPU quota, pids limit), the other runs with \`--cgroups off
--allow-unenforced-limits\`. Start: a one-replica \`/bin/sleep\` workload stating ${RESOURCES.cpuMillis}m of CPU and
${RESOURCES.memoryMb} MiB, pinned to one agent or the other, from the apply call until the Watch tells it Running;
each is deleted (untimed) before the next; ${FULL.samples} samples per side per run, alternating. The ratio is
taken per run, of the two sides' p50s. Idle CPU: the limiting agent's own CPU time
(/proc/PID/stat, all its threads, 100 % is one core) over ${FULL.cpuWindowMs / 1000} s, ${FULL.settleMs / 1000} s after ${FULL.copies} copies
(${MANY_RESOURCES.cpuMillis}m, ${MANY_RESOURCES.memoryMb} MiB each, in their cgroups, their usage sampled and sent every 5 s) are Running;
its baseline is the same agent with no copy, over the same window, in the same run.

| measure | median | min | max | × baseline | goal |
|---|---|---|---|---|---|
| apply → Running, in cgroups, p50 | ${cells(s.limitedP50Ms, "ms")} | ${round(s.limitedP50Ms.median / s.unlimitedP50Ms.median, 2)} (of the medians) | |
| … per run, over the same run's baseline | ${cells(perRun, "×")} | | ≤ ${GOAL_RATIO}× ${verdict(perRun.median <= GOAL_RATIO)} |
| baseline: apply → Running, no cgroups, p50 | ${cells(s.unlimitedP50Ms, "ms")} | 1 | |
| agent CPU, ${FULL.copies} copies running | ${cells(s.agentCpuPct, "%")} | ${cpuRatio} | ≤ ${GOAL_CPU_PCT} % ${verdict(s.agentCpuPct.median <= GOAL_CPU_PCT)} |
| baseline: the same agent, no copy | ${cells(s.agentIdleCpuPct, "%")} | 1 | |
`,
  };
}
