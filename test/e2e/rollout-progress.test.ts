/**
 * A canary held at its progress deadline, end to end through dist/tessera (#25, #26): while the
 * old copies serve, READY counts them and UP-TO-DATE the canary; a canary that never gets
 * Ready stalls the rollout, and the stall is an event in history and `rollout history`; an
 * available canary waiting past the deadline for `rollout promote` is not stalled, and the
 * promote lets the rest roll; an undo mid-rollout keeps the copies that already run the spec
 * it goes back to; a Pending copy's reason is why it waits now.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, Harness, requireBinary } from "./harness.js";
import { type Mode, modeManifest } from "./mode-manifest.js";

setDefaultTimeout(60_000);

const h = new Harness();
let address = "";
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

/** `name`, 3 copies Ready while its MODE is good (mode-manifest.ts); one canary held until promoted. */
function manifest(name: string, mode: Mode, version: string, progressDeadline: string): string {
  return modeManifest(h.dir, name, mode, version, { replicas: 3, update: { canary: 1, autoPromote: false, maxUnavailable: 1, maxSurge: 1 }, progressDeadline });
}

/** The `get workloads` row of `name`. */
async function row(name: string): Promise<string | undefined> {
  return (await ctl("get", "workloads")).stdout.split("\n").find((l) => l.startsWith(`${name} `));
}

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    address = (await h.startControl()).address;
    h.start(["agent", "--control", address, "--name", "node-p", "--data-dir", join(h.dir, "agent"), "--dns-listen", ""]);
    await eventually("node-p Ready", async () => ((await ctl("get", "nodes")).stdout.includes("Ready") ? true : undefined));
  }),
);
afterAll(async () => {
  for (const w of ["held", "waits", "huge", "undo"]) await ctl("delete", "workload", w);
  await h.stop();
});

test("a canary that never gets Ready: READY counts the three old copies, UP-TO-DATE the canary, and the stall is an event", async () => {
  const first = await ctl("apply", "-f", manifest("held", "good", "v1", "6s"), "--wait", "--timeout", "30s");
  expect(first.code).toBe(0);
  expect((await ctl("get", "workloads")).stdout.split("\n")[0]).toMatch(/^NAME\s+READY\s+STATUS\s+GEN\s+UP-TO-DATE\s+NODES\s+AGE$/);
  expect((await ctl("apply", "-f", manifest("held", "bad", "v2", "6s"))).code).toBe(0);
  const during = await eventually("the canary running, held", async () => {
    const line = await row("held");
    return line?.match(/^held\s+3\/3\s+Running\s+2\s+1\s/) ? line : undefined;
  });
  expect(during).toBeDefined();
  const json = JSON.parse((await ctl("get", "workloads", "-o", "json")).stdout) as { workloads: Array<{ name: string; status: { ready: number; upToDate: number; desired: number } }> };
  expect(json.workloads.find((w) => w.name === "held")!.status).toMatchObject({ ready: 3, upToDate: 1, desired: 3 });
  expect((await ctl("describe", "workload", "held")).stdout).toContain("Status:      Running (3/3 ready, 1 up-to-date");

  const stalled = await eventually("held Stalled", async () => {
    const line = await row("held");
    return line?.match(/\bStalled\b/) ? line : undefined;
  }, 20_000);
  expect(stalled).toMatch(/^held\s+3\/3\s+Stalled\s+2\s+1\s/);
  expect((await ctl("rollout", "status", "held")).stdout).toMatch(/generation 2: stalled: held-0: readiness checks not passing; canary held until promoted \(0 of 1 canary available\)/);
  // The status reads the clock; the event comes with the writer's next pass (its tick).
  const history = await eventually("the stall in history", async () => {
    const out = (await ctl("history", "held")).stdout;
    return out.includes("RolloutStalled") ? out : undefined;
  });
  expect(history).toMatch(/RolloutStalled\s+held rollout of generation 2 stalled: not complete within progress_deadline 6s \(held-0\.\d+ not Ready: readiness check mode failing: \/bin\/sh: exit code 1\)/);
  expect((await ctl("rollout", "history", "held")).stdout).toMatch(/^2\s.*applied\s+stalled: not complete within progress_deadline 6s/m);
});

test("an available canary waiting past its deadline is not stalled; promote lets the rest roll", async () => {
  expect((await ctl("apply", "-f", manifest("waits", "good", "v1", "3s"), "--wait", "--timeout", "30s")).code).toBe(0);
  expect((await ctl("apply", "-f", manifest("waits", "good", "v2", "3s"))).code).toBe(0);
  const changed = Date.now();
  // Well past the deadline, the canary still only waits for its promotion.
  await eventually(
    "the deadline passed with the canary available",
    async () => {
      const status = (await ctl("rollout", "status", "waits")).stdout;
      expect(status).not.toContain("stalled");
      return Date.now() - changed > 5_000 && status.includes("canary: held until promoted (1 of 1 canary available)") ? true : undefined;
    },
    20_000,
    250,
  );
  expect(await row("waits")).toMatch(/^waits\s+4\/3\s+Running\s+2\s+1\s/);
  const promoted = await ctl("rollout", "promote", "waits");
  expect(promoted.stderr).toBe("");
  expect(promoted.stdout).toMatch(/^workload\/waits promoted \(generation 2\); rollout (progressing|soaking|complete)/);
  await eventually("every copy at generation 2", async () => ((await ctl("rollout", "status", "waits")).stdout.includes("generation 2: complete") ? true : undefined), 30_000);
  expect(await row("waits")).toMatch(/^waits\s+3\/3\s+Running\s+2\s+3\s/);
  expect((await ctl("history", "waits")).stdout).not.toContain("RolloutStalled");
});

test("a Pending copy's reason is why it waits now, not why it waited when it was created", async () => {
  expect((await ctl("cordon", "node-p")).code).toBe(0);
  try {
    const file = join(h.dir, "huge.json");
    writeFileSync(file, JSON.stringify({ name: "huge", spec: { command: "/bin/sleep", args: ["3600"], resources: { cpuMillis: 64_000 } } }));
    expect((await ctl("apply", "-f", file)).code).toBe(0);
    const reason = async () => (await ctl("get", "instances", "huge")).stdout;
    await eventually("Pending on the cordoned node", async () => ((await reason()).includes("no node fits (1 cordoned)") ? true : undefined));
    expect((await ctl("uncordon", "node-p")).code).toBe(0);
    await eventually("Pending for its size", async () => ((await reason()).includes("no node fits (1 short of cpu)") ? true : undefined));
    expect(await reason()).not.toContain("cordoned");
  } finally {
    await ctl("uncordon", "node-p");
  }
});

test("rollout undo mid-rollout keeps the copies that already run the spec it goes back to", async () => {
  const undoManifest = (mode: Mode, version: string) => modeManifest(h.dir, "undo", mode, version, { replicas: 3, update: { maxUnavailable: 1, maxSurge: 0 } });
  const wantedIds = async () =>
    (JSON.parse((await ctl("get", "instances", "undo", "-o", "json")).stdout).instances as Array<{ id: string; generation: string; desiredState: string }>)
      .filter((i) => i.desiredState === "DESIRED_STATE_RUN")
      .map((i) => `${i.id}@${i.generation}`)
      .sort();
  expect((await ctl("apply", "-f", undoManifest("good", "v1"), "--wait", "--timeout", "30s")).code).toBe(0);
  expect((await ctl("apply", "-f", undoManifest("good", "v2"), "--wait", "--timeout", "30s")).code).toBe(0);
  // v3 never gets Ready: it replaces one copy (max_unavailable 1) and goes no further.
  expect((await ctl("apply", "-f", undoManifest("bad", "v3"))).code).toBe(0);
  const midway = await eventually("one copy of v3, two of v2", async () => {
    const ids = await wantedIds();
    return ids.filter((i) => i.endsWith("@3")).length === 1 && ids.filter((i) => i.endsWith("@2")).length === 2 ? ids : undefined;
  });
  const untouched = midway.filter((i) => i.endsWith("@2"));
  const undo = await ctl("rollout", "undo", "undo");
  expect(undo.stdout).toBe("workload/undo rolled back (generation 4)\n");
  await eventually("back to v2, every copy Ready", async () => ((await ctl("rollout", "status", "undo")).stdout.includes("generation 4: complete") ? true : undefined), 20_000);
  const after = await wantedIds();
  expect(after).toHaveLength(3);
  for (const id of untouched) expect(after).toContain(id);
  expect((await ctl("history", "undo")).stdout).toContain("back to generation 2's template: copies running it are kept, the others replaced");
});
