/**
 * What an idle fleet's heartbeats cost the control plane (issue 33): a real control plane
 * (dist/tessera control) and AGENTS agents in this process (the real Agent on the simulated
 * executor), nothing to run; the control plane's CPU (user + system, /proc/PID/stat) over
 * WINDOWS windows of WINDOW_S seconds each, once every node is Ready. Extra arguments go to
 * `tessera control` (e.g. --max-heartbeats-per-second 100).
 *
 *   bun test/bench/heartbeat-idle.ts [control flags...]
 *   AGENTS=1000 WINDOWS=5 WINDOW_S=20 (the defaults); HEARTBEAT_MS: the agents' own --heartbeat
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Agent } from "../../src/agent/agent.js";
import { NodeCredentials } from "../../src/agent/credentials.js";
import { SimulatedExecutor } from "../../src/agent/simulated-executor.js";
import { NO_PORTS } from "../../src/core/model/ports.js";
import type { Logger } from "../../src/shell/logger.js";
import { eventually, Harness } from "../e2e/harness.js";
import { metric, pool } from "./fleet.js";
import { CLOCK_TICKS_PER_S, cpuTicks, percentile } from "./report.js";

const AGENTS = Number(process.env.AGENTS ?? 1_000);
const WINDOWS = Number(process.env.WINDOWS ?? 5);
const WINDOW_S = Number(process.env.WINDOW_S ?? 20);
/** The agents' own --heartbeat (unset: theirs, 1 s). */
const HEARTBEAT_MS = process.env.HEARTBEAT_MS === undefined ? undefined : Number(process.env.HEARTBEAT_MS);
const SILENT: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => SILENT };

const harness = new Harness("tessera-heartbeat-idle-");
const { server, address, metricsAddress } = await harness.startControl("127.0.0.1:0", { TESSERA_LOG: "info" }, process.argv.slice(2));
const controlDir = join(harness.dir, "control");
const caPem = readFileSync(join(controlDir, "pki", "ca.pem"), "utf8");
const joinToken = readFileSync(join(controlDir, "join-token"), "utf8").trim();
const agents: Agent[] = [];
await pool(50, AGENTS, async (i) => {
  const node = `sim-${String(i).padStart(5, "0")}`;
  const agent = new Agent({
    control: address,
    node,
    executor: new SimulatedExecutor(),
    version: "bench",
    ports: NO_PORTS,
    hostVolumes: [],
    log: SILENT,
    labels: {},
    capacity: { cpuMillis: 64_000, memoryMb: 262_144 },
    ...(HEARTBEAT_MS === undefined ? {} : { heartbeatMs: HEARTBEAT_MS }),
    credentials: new NodeCredentials(join(harness.dir, "agents", node), node, address, { caPem, joinToken }),
  });
  agents.push(agent);
  await agent.start();
});
const scrape = async () => (await fetch(`http://${metricsAddress}/metrics`)).text();
await eventually("every node Ready", async () => (metric(await scrape(), "tessera_nodes", 'health="ready"') === AGENTS ? true : undefined), 120_000, 200);
// The connection storm settles first.
await Bun.sleep(5_000);
const pid = server.proc.pid;
const percents: number[] = [];
for (let w = 0; w < WINDOWS; w++) {
  const t0 = performance.now();
  const c0 = cpuTicks(pid);
  await Bun.sleep(WINDOW_S * 1_000);
  const seconds = (performance.now() - t0) / 1_000;
  const cpu = (cpuTicks(pid) - c0) / CLOCK_TICKS_PER_S;
  percents.push((100 * cpu) / seconds);
  console.log(`window ${w + 1}: ${percents[w]!.toFixed(1)} % of one core`);
}
const ready = metric(await scrape(), "tessera_nodes", 'health="ready"');
console.log(JSON.stringify({ agents: AGENTS, heartbeatMs: HEARTBEAT_MS ?? 1_000, flags: process.argv.slice(2), windows: percents.map((p) => +p.toFixed(1)), medianPercent: +percentile(percents, 50).toFixed(1), readyAtEnd: ready }));
for (const a of agents) a.close();
server.proc.kill("SIGTERM");
await server.proc.exited;
process.exit(0);
