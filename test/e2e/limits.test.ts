/**
 * Resource limits through dist/tessera with the process executor (as root, on cgroup v1 or v2):
 * a copy past its memoryMb is OOM-killed with that reason and restarted under backoff, a CPU
 * burner gets its cpuMillis, a fork bomb stops at the pids limit, and no cgroup of Tessera's
 * outlives its copy (delete, kill -9 of the agent). An agent that cannot enforce limits says so
 * and takes no copy that states resources unless its operator allows it (#31).
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { needsRoot, needTools } from "../system-packages/need.js";
import { E2E_TIMEOUT_MS, eventually, Harness, isAlive, requireBinary, type Server } from "./harness.js";

setDefaultTimeout(4 * E2E_TIMEOUT_MS);

const asRoot = needTools("resource limits through cgroups", [], needsRoot("making cgroups"));
const h = new Harness();
let address = "";
let metricsAddress = "";
let agent: Server;
const agentDir = () => join(h.dir, "agent");
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });
const startAgent = () => h.start(["agent", "--control", address, "--name", "node-a", "--data-dir", agentDir(), "--pids-limit", "64", "--label", "limits=cgroups"]);
const apply = async (body: object) => {
  const file = join(h.dir, `${(body as { name: string }).name}.json`);
  writeFileSync(file, JSON.stringify(body));
  expect((await ctl("apply", "-f", file)).code).toBe(0);
};
const onNodeA = { nodeSelector: { limits: "cgroups" } };

const V2_ROOT = "/sys/fs/cgroup/unified";
/** Where node-a's copies' cgroups are in a hierarchy (its parent is named by node and data dir): the one v2 tree, or v1's. */
function parentIn(hierarchy: string): string {
  const parent = `node-a.${createHash("sha256").update(agentDir()).digest("hex").slice(0, 8)}`;
  return usesV2() ? join(V2_ROOT, "tessera", parent) : join("/sys/fs/cgroup", hierarchy, "tessera", parent);
}
const usesV2 = () => existsSync(join(V2_ROOT, "tessera", `node-a.${createHash("sha256").update(agentDir()).digest("hex").slice(0, 8)}`));
const copyCgroups = () => readdirSync(parentIn("memory"), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
const instanceIds = async (workload: string) => (await ctl("get", "instances", workload)).stdout.match(new RegExp(`${workload}-\\d+\\.\\d+`, "g")) ?? [];
/** The pids in a copy's cgroup. */
const pidsOf = (id: string) => readFileSync(join(parentIn("pids"), id, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
const cpuNanos = (id: string) => {
  if (usesV2()) return 1000 * Number(readFileSync(join(parentIn("cpu"), id, "cpu.stat"), "utf8").match(/usage_usec (\d+)/)![1]);
  return Number(readFileSync(join(parentIn("cpuacct"), id, "cpuacct.usage"), "utf8"));
};

beforeAll(() =>
  h.explaining(async () => {
    if (asRoot.skip) return;
    asRoot.require();
    requireBinary();
    ({ address, metricsAddress } = await h.startControl());
    agent = startAgent();
    await agent.waitForLog((l) => l.msg === "limits enforced");
    await eventually("node-a Ready", async () => ((await ctl("get", "nodes")).stdout.includes("Ready") ? true : undefined));
  }),
);
afterAll(() => h.stop());

test.skipIf(asRoot.skip)("a copy allocating past its memoryMb is OOM-killed with that reason, and restarted under backoff", async () => {
  await apply({
    name: "hog",
    spec: { command: "/bin/sh", args: ["-c", "head -c 200m /dev/zero | tail"], resources: { memoryMb: 64 }, restartPolicy: { initialBackoff: "0.5s", maxBackoff: "4s" }, ...onNodeA },
  });
  const reason = "OOM killed (memory limit 64 MiB)";
  const history = await eventually(
    "three OOM kills",
    async () => {
      const out = (await ctl("history", "hog")).stdout;
      return out.split("\n").filter((l) => l.endsWith(reason)).length >= 3 ? out : undefined;
    },
    30_000,
    200,
  );
  // Restarted under backoff like any crash: each replacement is the next attempt, and waits at
  // least its backoff (0.5 s doubling) from the kill to its placement. Only lower bounds: a
  // loaded machine makes every wait longer, never shorter.
  const at = (l: string) => Date.parse(l.split(/\s+/)[1]!);
  const lines = history.split("\n");
  const restarts = lines.flatMap((l, k) => {
    if (!l.endsWith(reason)) return [];
    const created = lines.slice(k + 1).find((m) => /created \(generation \d+, attempt \d+\)/.test(m));
    const placed = lines.slice(k + 1).find((m) => / placed on node-a$/.test(m));
    return created && placed ? [{ attempt: Number(created.match(/attempt (\d+)/)![1]), wait: at(placed) - at(l) }] : [];
  });
  expect(restarts.length).toBeGreaterThanOrEqual(2);
  for (let k = 1; k < restarts.length; k++) expect(restarts[k]!.attempt).toBe(restarts[k - 1]!.attempt + 1);
  for (const r of restarts) expect(r.wait).toBeGreaterThanOrEqual(500 * 2 ** (r.attempt - 1) - 50);
  expect((await ctl("get", "instances", "hog")).stdout + (await ctl("describe", "workload", "hog")).stdout).toContain(reason);
  expect((await ctl("delete", "workload", "hog")).code).toBe(0);
});

test.skipIf(asRoot.skip)("a CPU burner with cpuMillis 200 uses about 0.2 of a core, measured from its cgroup", async () => {
  await apply({ name: "burn", spec: { command: "/bin/sh", args: ["-c", "while :; do :; done"], resources: { cpuMillis: 200 }, ...onNodeA } });
  const [id] = await eventually("burn running", async () => ((await ctl("get", "instances", "burn")).stdout.includes("Running") ? await instanceIds("burn") : undefined));
  const t0 = performance.now();
  const c0 = cpuNanos(id!);
  await eventually("3 s of burning", () => (performance.now() - t0 >= 3_000 ? true : undefined), 5_000, 100);
  const cores = (cpuNanos(id!) - c0) / 1e6 / (performance.now() - t0);
  // The quota caps it at 0.2 (a period's overrun aside); a loaded machine may give it less.
  expect(cores).toBeLessThan(0.26);
  expect(cores).toBeGreaterThan(0.1);
  expect((await ctl("delete", "workload", "burn")).code).toBe(0);
});

test.skipIf(asRoot.skip)("ctl top and /metrics show what a copy uses, agreeing with its cgroup", async () => {
  // Burns a fifth of a core and holds ~30 MiB (a shell variable) while it does.
  await apply({ name: "busy", spec: { command: "/bin/sh", args: ["-c", "x=$(head -c 30000000 /dev/zero | tr '\\0' a); while :; do :; done"], resources: { cpuMillis: 200, memoryMb: 256 }, ...onNodeA } });
  const [id] = await eventually("busy running", async () => ((await ctl("get", "instances", "busy")).stdout.includes("Running") ? await instanceIds("busy") : undefined));
  const t0 = performance.now();
  const c0 = cpuNanos(id!);
  const row = await eventually(
    "a sample of busy in ctl top",
    async () => {
      const line = (await ctl("top", "instances", "busy")).stdout.split("\n").find((l) => l.startsWith("busy-0 "));
      return line && !line.includes("<unknown>") && performance.now() - t0 > 6_000 ? line : undefined;
    },
    20_000,
    500,
  );
  const measured = (cpuNanos(id!) - c0) / 1e6 / (performance.now() - t0);
  const [, cpu, mem] = row.match(/(\d+)m\/200m \(\d+%\)\s+(\d+)Mi\/256Mi/)!;
  // Both are rates over a few seconds of the same loop: within 0.06 of a core of each other.
  expect(Math.abs(Number(cpu) / 1000 - measured)).toBeLessThan(0.06);
  // ~30 MiB held (the shell's copy of the variable, and the command substitution's while it lasted).
  expect(Number(mem)).toBeGreaterThan(25);
  expect(Number(mem)).toBeLessThan(100);
  expect((await ctl("top", "workloads")).stdout).toMatch(/busy\s+1\s+1\s+\d+m\/200m/);
  expect((await ctl("describe", "workload", "busy")).stdout).toMatch(/Usage: {7}cpu \d+m, memory \d+Mi \(1 running copy sampled\)/);
  expect((await ctl("describe", "node", "node-a")).stdout).toMatch(/Usage: {7}cpu \d+m, memory \d+Mi \(its copies, sampled /);
  expect((await ctl("top", "nodes")).stdout).toMatch(/node-a\s+\d+m\/\d+m \(\d+%\)\s+\d+Mi\/\d+Mi/);
  const metrics = await (await fetch(`http://${metricsAddress}/metrics`)).text();
  expect(metrics).toMatch(/tessera_workload_cpu_millicores\{workload="busy"\} \d+/);
  expect(metrics).toMatch(/tessera_node_memory_bytes\{node="node-a"\} \d+/);
  // Never a series per copy.
  expect(metrics).not.toContain(id!);
  // The web page's panel reads the same sample.
  const token = readFileSync(join(h.dir, "control", "admin-token"), "utf8").trim();
  // As the page signs in: from its own origin, with JSON.
  const signIn = await fetch(`http://${metricsAddress}/api/session`, { method: "POST", headers: { origin: `http://${metricsAddress}`, "content-type": "application/json" }, body: JSON.stringify({ token }) });
  const cookie = signIn.headers.get("set-cookie")!.split(";")[0]!;
  const usage = (await (await fetch(`http://${metricsAddress}/api/usage?copy=${id}`, { headers: { cookie } })).json()) as { usage: { cpuMillis: number; memoryBytes: number } };
  expect(usage.usage.cpuMillis).toBeGreaterThan(0);
  expect((await fetch(`http://${metricsAddress}/api/usage?copy=${id}`)).status).toBe(401);
  expect((await ctl("delete", "workload", "busy")).code).toBe(0);
});

test.skipIf(asRoot.skip)("a fork bomb stops at the pids limit, the node survives, and delete removes it all", async () => {
  // Forks for ever, keeping every child: only the limit (64 for this agent) stops it. bash, not
  // sh: dash exits at its first refused fork, so the copy would end (and its cgroup go) right
  // after the limit was met, and the test could miss it; bash waits and tries again.
  await apply({ name: "bomb", spec: { command: "/bin/bash", args: ["-c", "while :; do sleep 3600 & done 2>/dev/null"], resources: { cpuMillis: 100 }, ...onNodeA } });
  const [id] = await eventually("bomb running", async () => ((await ctl("get", "instances", "bomb")).stdout.includes("Running") ? await instanceIds("bomb") : undefined));
  const refused = () => Number(readFileSync(join(parentIn("pids"), id!, "pids.events"), "utf8").match(/max (\d+)/)![1]);
  await eventually("forks refused at the limit", () => (refused() > 0 ? true : undefined), 15_000, 100);
  // pids.current counts every task (threads, a fork on its way to exec); the processes held are most of the limit.
  expect(Number(readFileSync(join(parentIn("pids"), id!, "pids.current"), "utf8"))).toBeLessThanOrEqual(64);
  expect(pidsOf(id!).length).toBeGreaterThan(32);
  expect(isAlive(agent.proc.pid)).toBe(true);
  expect((await ctl("get", "nodes")).stdout).toMatch(/node-a\s+Ready/);
  expect((await ctl("delete", "workload", "bomb")).code).toBe(0);
  await eventually("bomb's cgroup gone", () => (!copyCgroups().includes(id!) ? true : undefined), 15_000, 100);
});

test.skipIf(asRoot.skip)("after delete, and after kill -9 of the agent and a restart, no cgroup is left without a copy", async () => {
  await apply({ name: "keep", spec: { command: "/bin/sleep", args: ["3600"], resources: { memoryMb: 32 }, ...onNodeA } });
  await apply({ name: "brief", spec: { command: "/bin/sh", args: ["-c", "sleep 2"], resources: { memoryMb: 32 }, restartPolicy: { mode: "RESTART_MODE_NEVER" }, ...onNodeA } });
  const [keep] = await eventually("keep running", async () => ((await ctl("get", "instances", "keep")).stdout.includes("Running") ? await instanceIds("keep") : undefined));
  const [brief] = await eventually("brief running", async () => ((await ctl("get", "instances", "brief")).stdout.includes("Running") ? await instanceIds("brief") : undefined));
  expect(copyCgroups()).toEqual(expect.arrayContaining([keep!, brief!]));
  agent.proc.kill("SIGKILL");
  await agent.proc.exited;
  // brief ends while the agent is away: its cgroup is left behind until the agent is back.
  await eventually("brief's processes gone", () => (pidsOf(brief!).length === 0 ? true : undefined), 10_000, 100);
  agent = startAgent();
  await agent.waitForLog((l) => l.msg === "adopted a running instance" && l.instance === keep);
  await eventually("only keep's cgroup left", () => (JSON.stringify(copyCgroups()) === JSON.stringify([keep]) ? true : undefined), 10_000, 100);
  // The adopted copy is still held to its limits.
  expect(pidsOf(keep!).length).toBeGreaterThan(0);
  expect((await ctl("delete", "workload", "keep")).code).toBe(0);
  expect((await ctl("delete", "workload", "brief")).code).toBe(0);
  await eventually("no cgroup left", () => (copyCgroups().length === 0 ? true : undefined), 10_000, 100);
});

test.skipIf(asRoot.skip)("an agent that cannot enforce limits says so, and takes copies that state resources only when allowed", async () => {
  const strict = h.start(["agent", "--control", address, "--name", "node-b", "--data-dir", join(h.dir, "agent-b"), "--cgroups", "off", "--label", "limits=none"]);
  await strict.waitForLog((l) => l.msg === "limits: not enforced (--cgroups off)");
  await eventually("node-b Ready", async () => ((await ctl("get", "nodes")).stdout.match(/node-b\s+Ready/) ? true : undefined));
  expect((await ctl("describe", "node", "node-b")).stdout).toContain("Limits:      not enforced (--cgroups off); copies that state resources are placed elsewhere");
  expect((await ctl("describe", "node", "node-a")).stdout).toMatch(/Limits: {6}enforced \(cgroup v[12]: memory, cpu, pids\)/);
  await apply({ name: "limited", spec: { command: "/bin/sleep", args: ["3600"], resources: { memoryMb: 32 }, nodeSelector: { limits: "none" } } });
  await apply({ name: "plain", spec: { command: "/bin/sleep", args: ["3600"], nodeSelector: { limits: "none" } } });
  await eventually("limited Pending with the reason", async () => ((await ctl("get", "instances", "limited")).stdout.includes("1 limits not enforced") ? true : undefined));
  await eventually("plain Running on node-b", async () => ((await ctl("get", "instances", "plain")).stdout.includes("Running") ? true : undefined));
  // The same node, its operator allowing it: the copy is placed.
  strict.proc.kill("SIGTERM");
  await strict.proc.exited;
  h.start(["agent", "--control", address, "--name", "node-b", "--data-dir", join(h.dir, "agent-b"), "--cgroups", "off", "--allow-unenforced-limits", "--label", "limits=none"]);
  await eventually("limited Running on node-b", async () => ((await ctl("get", "instances", "limited")).stdout.includes("Running") ? true : undefined), 20_000, 200);
});
