/**
 * A full disk under the control plane's store, through dist/tessera: the
 * control plane refuses changes with UNAVAILABLE and the reason, shows nothing it did not
 * save, reports not ready, keeps running the fleet's copies, and takes changes again by itself
 * once it can write. The data dir is a small tmpfs of its own (mount needs root, as CI has).
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { needsRoot, needTools } from "../system-packages/need.js";
import { eventually, Harness, isAlive, recordedInstancePids, requireBinary, type Server, transitionsOf } from "./harness.js";

setDefaultTimeout(60_000);

const asRoot = needTools("a full disk under the store", [], needsRoot("mounting a tmpfs"));
const h = new Harness();
const dataDir = join(h.dir, "control");
const agentDir = join(h.dir, "agent");
let control: Server;
let agent: Server;
let address = "";
let metrics = "";
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

function sh(...cmd: string[]): void {
  const r = Bun.spawnSync(cmd, { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString().trim()}`);
}

async function apply(name: string): Promise<{ code: number; stderr: string }> {
  writeFileSync(join(h.dir, `${name}.json`), JSON.stringify({ name, spec: { command: "/bin/sleep", args: ["3600"] } }));
  return ctl("apply", "-f", `${name}.json`);
}

const readyz = async () => {
  const r = await fetch(`http://${metrics}/readyz`);
  return { status: r.status, body: await r.text() };
};

async function workloads(): Promise<string> {
  return (await ctl("get", "workloads")).stdout;
}

beforeAll(() =>
  h.explaining(async () => {
    if (asRoot.skip) return;
    asRoot.require();
    requireBinary();
    mkdirSync(dataDir, { recursive: true });
    // mode=0700: the control plane refuses a data dir others can use (a tmpfs root is 1777).
    sh("mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", dataDir);
    ({ server: control, address, metricsAddress: metrics } = await h.startControl());
    agent = h.start(["agent", "--control", address, "--name", "node-a", "--data-dir", agentDir]);
    expect((await apply("before")).code).toBe(0);
    await eventually("before Running", async () => ((await ctl("get", "instances", "before")).stdout.includes("Running") ? true : undefined), 15_000);
  }),
);

afterAll(async () => {
  for (const s of [control, agent]) s?.proc.kill("SIGKILL");
  await Promise.all([control?.proc.exited, agent?.proc.exited]);
  Bun.spawnSync(["umount", dataDir]);
  await h.stop();
});

test.skipIf(asRoot.skip)("a full disk: changes are refused with the reason, nothing unsaved shows, the fleet keeps running, writes resume by themselves", async () => {
  const filler = join(dataDir, "filler");
  const pids = recordedInstancePids(agentDir).filter(isAlive).sort();
  expect(pids.length).toBeGreaterThan(0);
  // Fills the file system; dd ends with ENOSPC.
  Bun.spawnSync(["dd", "if=/dev/zero", `of=${filler}`, "bs=64k"], { stderr: "ignore" });
  try {
    const refused = await apply("late");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("cannot record changes");
    expect(refused.stderr).toMatch(/disk is full/);
    // What was refused never shows, not even until a restart.
    expect(await workloads()).not.toContain("late");
    const notReady = await readyz();
    expect(notReady.status).toBe(503);
    expect(notReady.body).toMatch(/disk is full/);
    // Every later change gets the same answer, not "shutting down".
    const again = await apply("late");
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/disk is full/);
    expect(control.proc.exitCode).toBeNull();
  } finally {
    rmSync(filler);
  }
  await eventually("ready again", async () => ((await readyz()).status === 200 ? true : undefined), 15_000);
  expect((await apply("late")).code).toBe(0);
  expect(await workloads()).toContain("late");
  await eventually("late Running", async () => ((await ctl("get", "instances", "late")).stdout.includes("Running") ? true : undefined), 15_000);
  // Nothing that ran before was restarted: the agent got the grace of a restart to come back.
  for (const pid of pids) expect(isAlive(pid)).toBe(true);
  const transitions = await transitionsOf(h, address, "before");
  expect(transitions).toContain("run");
  expect(transitions).not.toContain("lose");
});
