/**
 * What a control plane does not lose, it must not disrupt (ARCHITECTURE.md, invariant 11 and
 * "What survives what"): kill -9 and restart of the control plane, however long it was down,
 * and an agent that comes back after its node was declared Offline, leave the same processes
 * running.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, Harness, isAlive, recordedInstancePids, requireBinary, type Server, transitionsOf } from "./harness.js";

setDefaultTimeout(90_000);

/** The control plane's defaults (src/core/reconcile/reconcile.ts DEFAULT_POLICY). */
const OFFLINE_AFTER_MS = 5_000;
const REPLICAS = 6;

const h = new Harness();
let control: Server;
let address = "";
let agent: Server;
const agentDir = join(h.dir, "agent");
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

interface Copy {
  id: string;
  state: string;
  desired: string;
}

async function copies(workload: string): Promise<Copy[]> {
  const out = await ctl("get", "instances", workload, "-o", "json");
  if (out.code !== 0) throw new Error(out.stderr);
  const list = (JSON.parse(out.stdout) as { instances?: Array<{ id: string; observedState: string; desiredState: string }> }).instances ?? [];
  return list.map((i) => ({ id: i.id, state: i.observedState.replace("INSTANCE_STATE_", ""), desired: i.desiredState.replace("DESIRED_STATE_", "") })).sort((a, b) => a.id.localeCompare(b.id));
}

/** The running copies' ids and the pids of their process groups, once all REPLICAS run. */
async function steady(workload: string): Promise<{ ids: string[]; pids: number[] }> {
  return eventually(
    `${REPLICAS} copies of ${workload} Running, nothing else`,
    async () => {
      const all = await copies(workload);
      const pids = recordedInstancePids(agentDir).filter(isAlive).sort();
      return all.length === REPLICAS && all.every((c) => c.state === "RUNNING") && pids.length === REPLICAS ? { ids: all.map((c) => c.id), pids } : undefined;
    },
    15_000,
  );
}

/**
 * Polls until `until` (a moment past which the old behaviour would have replaced the copies),
 * failing at the first poll where a copy was lost, stopped, replaced or restarted.
 */
async function unchangedUntil(workload: string, before: { ids: string[]; pids: number[] }, until: number): Promise<void> {
  await eventually(
    "the moment the old judgement would have replaced the copies",
    async () => {
      const now = await copies(workload).catch(() => undefined);
      if (now !== undefined) {
        expect(now.map((c) => `${c.id} ${c.state} ${c.desired}`)).toEqual(before.ids.map((id) => `${id} RUNNING RUN`));
      }
      expect(recordedInstancePids(agentDir).filter(isAlive).sort()).toEqual(before.pids);
      return now !== undefined && Date.now() > until ? true : undefined;
    },
    until - Date.now() + 15_000,
    250,
  );
}

async function restartControl(downMs: number): Promise<number> {
  control.proc.kill("SIGKILL");
  await control.proc.exited;
  if (downMs > 0) await Bun.sleep(downMs); // The scenario itself: the control plane stays down this long.
  control = (await h.startControl(address)).server;
  const listening = Date.now();
  await control.waitForLog((l) => l.msg === "agent connected" && l.node === "node-a", 15_000);
  return listening;
}

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    ({ server: control, address } = await h.startControl());
    agent = h.start(["agent", "--control", address, "--name", "node-a", "--data-dir", agentDir]);
    await eventually("node-a Ready", async () => ((await ctl("get", "nodes")).stdout.includes("Ready") ? true : undefined));
    writeFileSync(join(h.dir, "web.json"), JSON.stringify({ name: "web", spec: { command: "/bin/sleep", args: ["3600"], replicas: REPLICAS } }));
    expect((await ctl("apply", "-f", "web.json")).code).toBe(0);
  }),
);
afterAll(() => h.stop());

test.each([0, 20_000])("kill -9 of the control plane, down %d ms, then restarted: every copy keeps running, none is replaced", async (downMs) => {
  const before = await steady("web");
  const listening = await restartControl(downMs);
  await unchangedUntil("web", before, listening + OFFLINE_AFTER_MS + 1_000);
  const transitions = await transitionsOf(h, address, "web");
  expect(transitions).toContain("run");
  expect(transitions).not.toContain("lose");
  expect(agent.proc.exitCode).toBeNull();
});

test("an agent frozen until its node is Offline gets its copies back when it returns: nothing had replaced them", async () => {
  const before = await steady("web");
  agent.proc.kill("SIGSTOP");
  try {
    // One node only: the replacements of the Lost copies can only be Pending.
    await eventually(
      "the copies Lost, their replacements Pending",
      async () => {
        const all = await copies("web");
        return all.filter((c) => c.state === "LOST").length === REPLICAS && all.filter((c) => c.state === "PENDING").length === REPLICAS ? true : undefined;
      },
      OFFLINE_AFTER_MS + 10_000,
    );
  } finally {
    agent.proc.kill("SIGCONT");
  }
  await eventually(
    "the same copies Running again, the replacements gone",
    async () => {
      const all = await copies("web");
      return JSON.stringify(all.map((c) => `${c.id} ${c.state} ${c.desired}`)) === JSON.stringify(before.ids.map((id) => `${id} RUNNING RUN`)) ? true : undefined;
    },
    15_000,
  );
  expect(recordedInstancePids(agentDir).filter(isAlive).sort()).toEqual(before.pids);
  expect(await transitionsOf(h, address, "web")).toContain("reclaim");
  expect((await ctl("history", "web")).stdout).toMatch(/ web-\d\.\d+ taken back: its node returned still running it$/m);
});
