/**
 * The footprint benchmark: what dist/tessera weighs on disk, how fast `tessera version`
 * returns, and what an idle agent and control plane hold in memory and burn in CPU. Every
 * number is set against a hello-world compiled with the same Bun settings (cli/build.ts), so
 * the Bun runtime's own share is measured rather than assumed. Used by `make bench` (several
 * runs, medians) and by a smoke test (one short run).
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { COMPILE_SETTINGS } from "../../cli/build.js";
import { CHANNEL_OPTIONS } from "../../src/shell/control-channel.js";
import { BINARY, eventually, Harness, requireBinary } from "../e2e/harness.js";
import { CLOCK_TICKS_PER_S, cells, cpuTicks, round, type Section, type Stats, stats, statusMib, verdict } from "./report.js";

/** The runtime alone: prints a line like `tessera version`, or idles on a timer like a server. */
const HELLO_SOURCE = `if (process.argv[2] === "idle") setInterval(() => {}, 1_000); else console.log("hello");\n`;

/**
 * The floor of any agent: a grpc-js client holding one TLS connection to the control plane,
 * idle. It imports grpc-js, so it is compiled from a directory that resolves node_modules.
 */
const GRPC_FLOOR_SOURCE = `import { Client, credentials } from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
const [address, ca] = process.argv.slice(2);
const client = new Client(address, credentials.createSsl(readFileSync(ca)), ${JSON.stringify(CHANNEL_OPTIONS)});
client.waitForReady(Date.now() + 10_000, (err) => { if (err) { console.error(err.message); process.exit(1); } });
setInterval(() => {}, 1_000);
`;

/** Production logging: debug lines (a heartbeat a second) would be part of the measurement. */
const QUIET = { TESSERA_LOG: "info" };

const MIB = 2 ** 20;

/** Compiles `source` as `name` into `dir` with the settings dist/tessera is compiled with. */
async function compile(dir: string, name: string, source: string): Promise<string> {
  const entry = join(dir, `${name}.ts`);
  const outfile = join(dir, name);
  writeFileSync(entry, source);
  const result = await Bun.build({ entrypoints: [entry], compile: { outfile }, ...COMPILE_SETTINGS });
  if (!result.success) throw new Error(`compiling ${name} failed:\n${result.logs.join("\n")}`);
  return outfile;
}

export const compileHello = (dir: string) => compile(dir, "hello", HELLO_SOURCE);

/** A scratch directory under node_modules (ignored by git), where imports of packages resolve. */
export function scratchWithModules(): string {
  return mkdtempSync(join(import.meta.dir, "..", "..", "node_modules", ".tessera-footprint-"));
}

export const compileGrpcFloor = (dir: string) => compile(dir, "grpc-floor", GRPC_FLOOR_SOURCE);

/** Median wall time of `count` runs of each command, interleaved so both see the same machine. */
function timeSpawns(commands: string[][], count: number): number[] {
  const times = commands.map(() => [] as number[]);
  const once = (cmd: string[]) => {
    const t0 = performance.now();
    const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
    const ms = performance.now() - t0;
    if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited with ${r.exitCode}: ${r.stderr.toString()}`);
    return ms;
  };
  // One untimed run each: the first reads 100 MB of binary from disk into the page cache.
  for (const cmd of commands) once(cmd);
  for (let i = 0; i < count; i++) commands.forEach((cmd, c) => times[c]!.push(once(cmd)));
  return times.map((t) => stats(t).median);
}

export interface FootprintOptions {
  /** `tessera version` (and hello) runs per measurement; their median is the measurement. */
  versionSpawns: number;
  /** Idle time after the agent is Ready, before memory and CPU are read. */
  settleMs: number;
  /** The window over which idle CPU is sampled. */
  cpuWindowMs: number;
}

export interface FootprintRun {
  versionMs: number;
  helloMs: number;
  agentRssMib: number;
  agentRssAnonMib: number;
  agentRssFileMib: number;
  agentPeakRssMib: number;
  agentCpuPct: number;
  controlRssMib: number;
  controlCpuPct: number;
  /** An idle compiled grpc-js client with one TLS connection: the floor of any agent. */
  grpcFloorRssMib: number;
  helloRssMib: number;
  helloRssAnonMib: number;
  helloRssFileMib: number;
  helloPeakRssMib: number;
  helloCpuPct: number;
}

/** One measurement: version wall times, then a control plane, an agent and the idle hello side by side. */
export async function measureFootprint(hello: string, grpcFloor: string, opts: FootprintOptions): Promise<FootprintRun> {
  requireBinary();
  const [versionMs, helloMs] = timeSpawns([[BINARY, "version"], [hello]], opts.versionSpawns) as [number, number];
  const h = new Harness();
  const idle = Bun.spawn([hello, "idle"], { stdout: "ignore", stderr: "ignore" });
  try {
    const { server: control, address } = await h.startControl("127.0.0.1:0", QUIET);
    const agent = h.start(["agent", "--control", address, "--name", "n1", "--data-dir", join(h.dir, "agent")], QUIET);
    const floor = h.start([address, join(h.dir, "control", "pki", "ca.pem")], {}, grpcFloor);
    await eventually("n1 Ready", async () => (/^n1\s.*\bReady\b/m.test((await h.run(["ctl", "get", "nodes"], { TESSERA_CONTROL: address })).stdout) ? true : undefined), 15_000);
    await Bun.sleep(opts.settleMs);
    const pids = [control.proc.pid, agent.proc.pid, idle.pid] as const;
    const before = pids.map(cpuTicks);
    const t0 = performance.now();
    await Bun.sleep(opts.cpuWindowMs);
    const seconds = (performance.now() - t0) / 1000;
    const [controlCpuPct, agentCpuPct, helloCpuPct] = pids.map((pid, i) => ((cpuTicks(pid) - before[i]!) / CLOCK_TICKS_PER_S / seconds) * 100) as [number, number, number];
    for (const s of [control, agent]) if (s.proc.exitCode !== null) throw new Error(`tessera ${s === agent ? "agent" : "control"} exited while idle`);
    return {
      versionMs,
      helloMs,
      agentRssMib: statusMib(agent.proc.pid, "VmRSS"),
      agentRssAnonMib: statusMib(agent.proc.pid, "RssAnon"),
      agentRssFileMib: statusMib(agent.proc.pid, "RssFile"),
      agentPeakRssMib: statusMib(agent.proc.pid, "VmHWM"),
      agentCpuPct,
      controlRssMib: statusMib(control.proc.pid, "VmRSS"),
      controlCpuPct,
      grpcFloorRssMib: statusMib(floor.proc.pid, "VmRSS"),
      helloRssMib: statusMib(idle.pid, "VmRSS"),
      helloRssAnonMib: statusMib(idle.pid, "RssAnon"),
      helloRssFileMib: statusMib(idle.pid, "RssFile"),
      helloPeakRssMib: statusMib(idle.pid, "VmHWM"),
      helloCpuPct,
    };
  } finally {
    idle.kill("SIGKILL");
    await idle.exited;
    await h.stop();
  }
}

const VERSION_GOAL_MS = 50;
const AGENT_RSS_GOAL_MIB = 60;
const FULL: FootprintOptions = { versionSpawns: 20, settleMs: 3_000, cpuWindowMs: 10_000 };

/** Benchmark 6: binary size, `tessera version` wall time, idle agent and control plane. */
export async function benchFootprint(runs: number): Promise<Section> {
  const dir = scratchWithModules();
  try {
    const hello = await compileHello(dir);
    const grpcFloor = await compileGrpcFloor(dir);
    const tesseraBytes = statSync(BINARY).size;
    const runtimeBytes = statSync(hello).size;
    const all: FootprintRun[] = [];
    for (let r = 0; r < runs; r++) {
      const run = await measureFootprint(hello, grpcFloor, FULL);
      all.push(run);
      console.log(
        `run ${r + 1}/${runs}: version ${run.versionMs.toFixed(1)} ms (hello ${run.helloMs.toFixed(1)} ms), agent RSS ${run.agentRssMib.toFixed(1)} MiB, control CPU ${run.controlCpuPct.toFixed(2)} %, control RSS ${run.controlRssMib.toFixed(1)} MiB`,
      );
    }
    const s = Object.fromEntries(Object.keys(all[0]!).map((k) => [k, stats(all.map((run) => run[k as keyof FootprintRun]))])) as Record<keyof FootprintRun, Stats>;
    const ratio = (x: Stats, base: Stats) => (base.median > 0 ? `${round(x.median / base.median, 1)}` : "n/a (baseline 0)");
    const mib = (bytes: number) => round(bytes / MIB, 1);
    const size = { tesseraMib: mib(tesseraBytes), runtimeMib: mib(runtimeBytes), ownMib: mib(tesseraBytes - runtimeBytes) };
    return {
      name: "footprint",
      order: 6,
      results: { settings: FULL, goals: { versionMs: VERSION_GOAL_MS, agentRssMib: AGENT_RSS_GOAL_MIB }, binary: { tesseraBytes, runtimeBytes, ownBytes: tesseraBytes - runtimeBytes }, ...s },
      markdown: `## 6. Footprint

Baseline: a hello-world compiled with the same settings as dist/tessera (cli/build.ts), which
is the Bun runtime alone; it prints a line, or idles on a 1 s timer. An agent (process
executor) and a control plane run connected and idle, logging at info; memory is read
from /proc/PID/status after ${FULL.settleMs / 1000} s idle, CPU from /proc/PID/stat over the next ${FULL.cpuWindowMs / 1000} s
(100 % is one core). Each \`version\` measurement is the median of ${FULL.versionSpawns} runs.

| binary | size |
|---|---|
| dist/tessera | ${size.tesseraMib} MiB |
| Bun runtime (hello-world) | ${size.runtimeMib} MiB |
| Tessera's own weight (difference) | ${size.ownMib} MiB |

| measure | median | min | max | baseline (median) | × baseline | goal |
|---|---|---|---|---|---|---|
| \`tessera version\` wall time | ${cells(s.versionMs, "ms")} | ${s.helloMs.median} ms | ${ratio(s.versionMs, s.helloMs)} | ≤ ${VERSION_GOAL_MS} ms ${verdict(s.versionMs.median <= VERSION_GOAL_MS)} |
| agent idle RSS (VmRSS) | ${cells(s.agentRssMib, "MiB")} | ${s.helloRssMib.median} MiB | ${ratio(s.agentRssMib, s.helloRssMib)} | ≤ ${AGENT_RSS_GOAL_MIB} MiB ${verdict(s.agentRssMib.median <= AGENT_RSS_GOAL_MIB)} |
| floor: an idle grpc-js client, one TLS connection (compiled the same way) | ${cells(s.grpcFloorRssMib, "MiB")} | ${s.helloRssMib.median} MiB | ${ratio(s.grpcFloorRssMib, s.helloRssMib)} | agent × floor: ${ratio(s.agentRssMib, s.grpcFloorRssMib)} |
| of which anonymous (RssAnon: heaps) | ${cells(s.agentRssAnonMib, "MiB")} | ${s.helloRssAnonMib.median} MiB | ${ratio(s.agentRssAnonMib, s.helloRssAnonMib)} | |
| of which file-backed (RssFile: pages of the binary, shared by every tessera process) | ${cells(s.agentRssFileMib, "MiB")} | ${s.helloRssFileMib.median} MiB | ${ratio(s.agentRssFileMib, s.helloRssFileMib)} | |
| agent peak RSS (VmHWM) | ${cells(s.agentPeakRssMib, "MiB")} | ${s.helloPeakRssMib.median} MiB | ${ratio(s.agentPeakRssMib, s.helloPeakRssMib)} | |
| agent idle CPU | ${cells(s.agentCpuPct, "%")} | ${s.helloCpuPct.median} % | ${ratio(s.agentCpuPct, s.helloCpuPct)} | |
| control plane idle CPU | ${cells(s.controlCpuPct, "%")} | ${s.helloCpuPct.median} % | ${ratio(s.controlCpuPct, s.helloCpuPct)} | |
| control plane idle RSS (VmRSS) | ${cells(s.controlRssMib, "MiB")} | ${s.helloRssMib.median} MiB | ${ratio(s.controlRssMib, s.helloRssMib)} | |
`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
