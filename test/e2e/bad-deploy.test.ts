/**
 * A bad deploy and its fix through dist/tessera (#25, findings 3 and 8), as an operator runs
 * them: a service changed to a binary that exits 1 at once keeps a Ready copy (replicas −
 * maxUnavailable) though it has no readiness check, its new copies back off, its quarantine
 * says until when and can be lifted by an admin, and the corrected spec is placed at once,
 * never with two Pending rows for one replica. A workload deleted while quarantined and
 * created again starts without the quarantine.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(90_000);

const h = new Harness();
let address = "";
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

/** A service of 2 replicas (initialBackoff 1s, no readiness check) running `script`. */
function manifest(name: string, script: string): string {
  const file = join(h.dir, `${name}-${Bun.hash(script)}.json`);
  writeFileSync(file, JSON.stringify({ name, spec: { command: "/bin/sh", args: ["-c", script], replicas: 2, restartPolicy: { initialBackoff: "1s" } } }));
  return file;
}
const GOOD = (v: string) => `exec sleep 3600 # ${v}`;
const BAD = "exit 1";

interface Copy {
  name: string;
  generation: string;
  desiredState: string;
  observedState: string;
  ready: boolean;
}
async function copies(name: string): Promise<Copy[]> {
  return (JSON.parse((await ctl("get", "instances", name, "-o", "json")).stdout) as { instances?: Copy[] }).instances ?? [];
}
const wanted = (cs: Copy[]) => cs.filter((c) => c.desiredState === "DESIRED_STATE_RUN");

/** When each copy of the workload failed, from its history. */
async function failureTimes(name: string): Promise<number[]> {
  const { events } = JSON.parse((await ctl("history", name, "-o", "json")).stdout) as { events?: Array<{ type: string; at: string; detail: string }> };
  return (events ?? []).filter((e) => e.type === "InstanceTransitioned" && JSON.parse(e.detail).event?.type === "fail").map((e) => Date.parse(e.at));
}

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    address = (await h.startControl()).address;
    h.start(["agent", "--control", address, "--name", "node-q", "--data-dir", join(h.dir, "agent"), "--dns-listen", ""]);
    await eventually("node-q Ready", async () => ((await ctl("get", "nodes")).stdout.includes("Ready") ? true : undefined));
  }),
);
afterAll(async () => {
  await h.stop();
});

test("a bad deploy keeps a Ready copy, backs off, is quarantined until a stated time, and its fix is placed at once", async () => {
  expect((await ctl("apply", "-f", manifest("svc", GOOD("v1")), "--wait", "--timeout", "30s")).code).toBe(0);
  // Its copies have run for the default min_healthy_time (10 s without checks): complete.
  await eventually("v1 complete", async () => ((await ctl("rollout", "status", "svc")).stdout.includes(": complete") ? true : undefined), 20_000, 250);

  expect((await ctl("apply", "-f", manifest("svc", BAD))).code).toBe(0);
  const appliedAt = Date.now();
  // While the new copies crash (before the fix, both old copies were gone within seconds):
  // replicas − maxUnavailable = 1 Ready copy of generation 1 at every look.
  while (Date.now() < appliedAt + 8_000) {
    const ready = wanted(await copies("svc")).filter((c) => c.generation === "1" && c.ready);
    expect(ready.length).toBeGreaterThanOrEqual(1);
  }
  const status = await eventually(
    "svc quarantined on node-q",
    async () => {
      const out = (await ctl("rollout", "status", "svc")).stdout;
      return out.includes("crash-loop quarantine on node-q") ? out : undefined;
    },
    30_000,
    100,
  );
  expect(status).toMatch(/crash-loop quarantine on node-q: until \d{4}-\d\d-\d\dT[\d:.]+Z \(crash loop: 5 failures within 60s\); lift it: tessera ctl rollout unquarantine svc --node node-q/);
  expect((await ctl("describe", "workload", "svc")).stdout).toContain("Crash-loop quarantines");
  // The restart backoff held each replica's new copies: 1 s, then 2 s, ... not 9 failures in 4 s.
  expect((await failureTimes("svc")).filter((at) => at < appliedAt + 4_000).length).toBeLessThanOrEqual(6);

  // An admin lifts it, and history says so.
  const lifted = await ctl("rollout", "unquarantine", "svc", "--node", "node-q");
  expect(lifted.stderr).toBe("");
  expect(lifted.stdout).toContain("workload/svc quarantine lifted on node-q");
  expect((await ctl("history", "svc")).stdout).toContain("crash-loop quarantine lifted on node-q");

  // The fix is placed at once, quarantine or not, never two Pending rows for one replica.
  const fixed = ctl("apply", "-f", manifest("svc", GOOD("v3")), "--wait", "--timeout", "20s");
  const during: Copy[][] = [];
  let done = false;
  void fixed.then(() => void (done = true));
  while (!done) {
    during.push(wanted(await copies("svc")));
    await Bun.sleep(100);
  }
  const result = await fixed;
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  for (const snapshot of during) {
    const pending = snapshot.filter((c) => c.observedState === "INSTANCE_STATE_PENDING").map((c) => c.name);
    expect(pending).toEqual([...new Set(pending)]);
  }
  expect((await ctl("rollout", "status", "svc")).stdout).not.toContain("quarantine");
});

test("a workload deleted while quarantined and created again starts without the quarantine", async () => {
  expect((await ctl("apply", "-f", manifest("again", BAD))).code).toBe(0);
  // Five failures on the one node within 60 s: quarantined there.
  await eventually("again crash-looped", async () => ((await failureTimes("again")).length >= 5 ? true : undefined), 30_000, 200);
  expect((await ctl("delete", "workload", "again")).code).toBe(0);
  await eventually("again gone", async () => ((await ctl("get", "workloads")).stdout.includes("again") ? undefined : true), 20_000, 200);
  const created = await ctl("apply", "-f", manifest("again", GOOD("v1")), "--wait", "--timeout", "20s");
  expect(created.stderr).toBe("");
  expect(created.code).toBe(0);
  expect((await ctl("describe", "workload", "again")).stdout).not.toContain("quarantine");
  expect(wanted(await copies("again")).map((c) => c.observedState)).toEqual(["INSTANCE_STATE_RUNNING", "INSTANCE_STATE_RUNNING"]);
});
