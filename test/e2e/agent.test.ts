/**
 * The agent end to end with the process executor: adoption after kill -9, process groups,
 * restarts with growing backoff and visible exit codes, no orphan after a crash mid-start.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkUntilHeard, descendantsOf, E2E_TIMEOUT_MS, eventually, Harness, instanceProcesses, isAlive, recordedInstancePids, requireBinary, type Server } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const h = new Harness();
let address = "";
let agent: Server;
const agentDir = () => join(h.dir, "agent");
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });
const startAgent = () => h.start(["agent", "--control", address, "--name", "node-a", "--data-dir", agentDir()]);
const apply = async (body: object) => {
  const file = join(h.dir, `${(body as { name: string }).name}.json`);
  writeFileSync(file, JSON.stringify(body));
  expect((await ctl("apply", "-f", file)).code).toBe(0);
};
/** pids of processes (any depth under the agent's shims) whose command line is exactly `cmd`. */
function pidsRunning(cmd: string): number[] {
  return recordedInstancePids(h.dir).flatMap((leader) => [leader, ...descendantsOf(leader).map((d) => d.pid)]).filter((pid) => {
    try {
      return require("node:fs").readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ") === cmd && isAlive(pid);
    } catch {
      return false;
    }
  });
}

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    address = (await h.startControl()).address;
    agent = startAgent();
    await eventually("node-a Ready", async () => ((await ctl("get", "nodes")).stdout.includes("Ready") ? true : undefined));
  }),
);
afterAll(() => h.stop());

test("kill -9 of the agent: the restarted agent adopts the same process, nothing starts twice", async () => {
  await apply({ name: "keep", spec: { command: "/bin/sleep", args: ["3601"] } });
  const [pid] = await eventually("sleep 3601 running", () => {
    const p = pidsRunning("/bin/sleep 3601");
    return p.length === 1 ? p : undefined;
  });
  const id = (await ctl("get", "instances", "keep")).stdout.match(/keep-0\.\d+/)![0];
  agent.proc.kill("SIGKILL");
  await agent.proc.exited;
  expect(isAlive(pid!)).toBe(true);
  agent = startAgent();
  await agent.waitForLog((l) => l.msg === "adopted a running instance" && l.instance === id);
  await checkUntilHeard(h, address, agent, "node-a", () => expect(pidsRunning("/bin/sleep 3601")).toEqual([pid!]));
  const out = (await ctl("get", "instances", "keep")).stdout;
  expect(out.match(/keep-0\.\d+/g)!.every((x) => x === id)).toBe(true);
  expect(out).toMatch(/Running/);
});

test("an instance that ends while the agent is down is reported with its exit status", async () => {
  await apply({ name: "brief", spec: { command: "/bin/sh", args: ["-c", "sleep 2; exit 7"], restartPolicy: { mode: "RESTART_MODE_NEVER" } } });
  await eventually("brief Running", async () => ((await ctl("get", "instances", "brief")).stdout.includes("Running") ? true : undefined));
  agent.proc.kill("SIGKILL");
  await agent.proc.exited;
  const brief = () => instanceProcesses(h.dir).filter((p) => p.env.TESSERA_WORKLOAD === "brief");
  await eventually("brief's processes ended, the agent still down", () => (brief().length === 0 ? true : undefined));
  agent = startAgent();
  const line = await eventually("brief Failed with its exit code", async () => {
    const l = (await ctl("get", "instances", "brief")).stdout.split("\n").find((x) => x.includes("Failed"));
    return l?.includes("exited with code 7") ? l : undefined;
  });
  expect(line).toContain("brief-0");
});

test("delete kills the whole process group", async () => {
  await apply({ name: "family", spec: { command: "/bin/sh", args: ["-c", "/bin/sleep 3602 & /bin/sleep 3603; wait"] } });
  const pids = await eventually("both sleeps", () => {
    const p = [...pidsRunning("/bin/sleep 3602"), ...pidsRunning("/bin/sleep 3603")];
    return p.length === 2 ? p : undefined;
  });
  expect((await ctl("delete", "workload", "family")).code).toBe(0);
  await eventually("the whole group gone", () => (pids.every((p) => !isAlive(p)) ? true : undefined));
});

test("a crashing command is restarted with growing backoff; its exit codes are visible", async () => {
  await apply({ name: "crash", spec: { command: "/bin/sh", args: ["-c", "echo crashing; exit 3"], restartPolicy: { initialBackoff: "0.5s", maxBackoff: "4s" } } });
  const history = await eventually(
    "three failures",
    async () => {
      const out = (await ctl("history", "crash")).stdout;
      return out.split("\n").filter((l) => /InstanceTransitioned\s+crash-0\.\d+ exited with code 3$/.test(l)).length >= 3 ? out : undefined;
    },
    15_000,
    200,
  );
  // The gaps between consecutive starts grow (0.5 s, 1 s, 2 s ...).
  const starts = history
    .split("\n")
    .filter((l) => / placed on node-a$/.test(l))
    .map((l) => Date.parse(l.split(/\s+/)[1]!));
  expect(starts.length).toBeGreaterThanOrEqual(3);
  const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
  expect(gaps[1]!).toBeGreaterThan(gaps[0]!);
  const described = (await ctl("describe", "workload", "crash")).stdout;
  expect(described).toMatch(/crash-0\s+crash-0\.\d+\s+\S+\s+\S+\s+node-a\s+<none>\s+[1-9]/);
  expect((await ctl("logs", "crash", "--tail", "1")).stdout).toBe("crash-0 | crashing\n");
  expect((await ctl("delete", "workload", "crash")).code).toBe(0);
});

test("kill -9 of the agent during a burst of starts: after delete, no process it started survives", async () => {
  const burst = () => instanceProcesses(h.dir).filter((p) => p.env.TESSERA_WORKLOAD === "burst");
  // Small shares, so that the copies other tests leave running do not keep any of the 20 from fitting.
  await apply({ name: "burst", spec: { command: "/bin/sleep", args: ["3604"], replicas: 20, resources: { cpuMillis: 10, memoryMb: 8 } } });
  // Mid-burst: as soon as the first copy runs, while the others are being spawned.
  await agent.waitForLog((l) => l.msg === "instance running" && String(l.instance).startsWith("burst-"));
  agent.proc.kill("SIGKILL");
  await agent.proc.exited;
  const atKill = burst().length;
  agent = startAgent();
  await eventually("burst 20/20 Running", async () => ((await ctl("get", "workloads")).stdout.match(/^burst\s+20\/20\s+Running/m) ? true : undefined), 20_000);
  expect((await ctl("delete", "workload", "burst")).code).toBe(0);
  await eventually(`every process of burst gone (${atKill} ran when the agent was killed)`, () => (burst().length === 0 ? true : undefined), 15_000, 200).catch((err) => {
    throw new Error(`${err.message}; left: ${JSON.stringify(burst().map((p) => [p.pid, p.env.TESSERA_INSTANCE_ID]))}`);
  });
});
