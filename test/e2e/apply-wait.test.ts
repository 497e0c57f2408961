/**
 * `tessera ctl apply --wait` through dist/tessera, on real processes with exec readiness checks:
 * it exits 0 only once the generation it applied has rolled out (soaked, RolloutCompleted
 * recorded), and 1 with the reason when that generation is reverted, superseded or stalled.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { eventually, Harness, requireBinary } from "./harness.js";
import { type Mode, modeManifest } from "./mode-manifest.js";

setDefaultTimeout(60_000);

const h = new Harness();
let address = "";
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

/** NAME, 2 copies Ready while MODE is good (mode-manifest.ts); `extra` adds to the spec and its update. */
function manifest(name: string, mode: Mode, version: string, extra: Record<string, unknown> = {}): string {
  const { update, ...spec } = extra;
  return modeManifest(h.dir, name, mode, version, { replicas: 2, update: { maxUnavailable: 1, maxSurge: 1, ...(update as object) }, ...spec });
}

/** `apply -f FILE --wait`, its exit code and output. */
const applyWaiting = (file: string) => ctl("apply", "-f", file, "--wait", "--timeout", "45s");

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    // A pass every 500 ms: a revert follows its stall well within the wait's grace for it.
    address = (await h.startControl("127.0.0.1:0", {}, ["--tick", "500ms"])).address;
    h.start(["agent", "--control", address, "--name", "node-w", "--data-dir", join(h.dir, "agent"), "--dns-listen", ""]);
    await eventually("node-w Ready", async () => ((await ctl("get", "nodes")).stdout.includes("Ready") ? true : undefined));
  }),
);
afterAll(async () => {
  for (const w of ["rev", "stall", "sup", "soak", "held"]) await ctl("delete", "workload", w);
  await h.stop();
});

test("a generation reverted by autoRevert fails the wait with why, though what runs is complete", async () => {
  const first = await applyWaiting(manifest("rev", "good", "v1", { update: { autoRevert: true }, progressDeadline: "3s" }));
  expect(first.stderr).toBe("");
  expect(first.code).toBe(0);
  const bad = await applyWaiting(manifest("rev", "bad", "v2", { update: { autoRevert: true }, progressDeadline: "3s" }));
  expect(bad.stdout).not.toContain("rollout complete");
  expect(bad.stderr).toContain("error: rev generation 2 was reverted: ");
  expect(bad.stderr).toContain("not complete within progress_deadline 3s");
  expect(bad.code).toBe(1);
});

test("a generation stalled past its progressDeadline without autoRevert fails the wait at the deadline", async () => {
  const res = await applyWaiting(manifest("stall", "bad", "v1", { progressDeadline: "2s" }));
  expect(res.stderr).toContain("error: stall generation 1 stalled: stall-");
  expect(res.stderr).toContain("readiness checks not passing");
  expect(res.code).toBe(1);
});

test("a generation superseded by a newer apply fails the wait, though the newer one completes", async () => {
  expect((await applyWaiting(manifest("sup", "good", "v1"))).code).toBe(0);
  const waiting = applyWaiting(manifest("sup", "bad", "v2"));
  await eventually("generation 2 applied", async () => ((await ctl("rollout", "status", "sup")).stdout.includes("generation 2") ? true : undefined));
  expect((await ctl("apply", "-f", manifest("sup", "good", "v3"))).code).toBe(0);
  const res = await waiting;
  expect(res.stdout).not.toContain("rollout complete");
  expect(res.stderr).toContain("error: sup generation 2 was superseded by generation 3");
  expect(res.code).toBe(1);
});

test("the wait ends once the new copies have soaked for minHealthyTime and RolloutCompleted is recorded, no old copy wanted", async () => {
  const soak = { update: { minHealthyTime: "3s" } };
  expect((await applyWaiting(manifest("soak", "good", "v1", soak))).code).toBe(0);
  const res = await applyWaiting(manifest("soak", "good", "v2", soak));
  expect(res.stderr).toBe("");
  expect(res.stdout).toContain("rollout complete");
  expect(res.code).toBe(0);
  // Read at once: what --wait reported is already what the control plane recorded.
  const history = await ctl("history", "soak");
  expect(history.stdout).toContain("soak rollout of generation 2 complete");
  const wanted = (JSON.parse((await ctl("get", "instances", "soak", "-o", "json")).stdout).instances as Array<{ generation: string; desiredState: string }>).filter((i) => i.desiredState === "DESIRED_STATE_RUN");
  expect(wanted.map((i) => i.generation)).toEqual(["2", "2"]);
});

test("a wait that runs out says what holds the rollout: a canary waiting for promotion", async () => {
  const canary = { update: { canary: 1, autoPromote: false } };
  expect((await applyWaiting(manifest("held", "good", "v1", canary))).code).toBe(0);
  const res = await ctl("apply", "-f", manifest("held", "good", "v2", canary), "--wait", "--timeout", "3s");
  // (READY's count during a canary is another matter: only what holds the rollout is checked.)
  expect(res.stderr).toMatch(/^error: rollout not complete after 3s \(held \d\/2, 1 up-to-date\): held canary: held until promoted \(1 of 1 canary available\)$/m);
  expect(res.code).toBe(1);
});
