/**
 * Progressive delivery end to end through dist/tessera, with exec readiness checks on real
 * processes: a bad spec's canary never takes a Ready old copy away and is reverted
 * automatically, and applying that spec again is refused without --force; a good spec's
 * canary holds until `rollout promote`, then the rest roll; a three-wave rollout across
 * labelled nodes replaces wave by wave, as the Watch RPC's events show; a paused rollout waits.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ControlPlaneClient } from "../../src/gen/tessera/v1/control_plane.js";
import type { Event } from "../../src/gen/tessera/v1/types.js";
import { adminChannel, eventually, Harness, requireBinary } from "./harness.js";
import { type Mode, modeManifest } from "./mode-manifest.js";

setDefaultTimeout(60_000);

const h = new Harness();
let address = "";
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

/** `web`, 3 copies Ready while its MODE is good (mode-manifest.ts); a canary, auto_revert, a 4 s progress deadline. */
function manifest(mode: Mode, version: string): string {
  return modeManifest(h.dir, "web", mode, version, { replicas: 3, update: { canary: 1, autoRevert: true, maxUnavailable: 1, maxSurge: 1 }, progressDeadline: "4s" });
}

/** The copies wanted, as `generation:state:ready`, by name. */
async function copies(): Promise<string[]> {
  const out = JSON.parse((await ctl("get", "instances", "web", "-o", "json")).stdout) as { instances: Array<{ name: string; generation: string; desiredState: string; observedState: string; ready: boolean }> };
  return out.instances
    .filter((i) => i.desiredState === "DESIRED_STATE_RUN")
    .map((i) => `${i.name}:${i.generation}:${i.observedState.replace("INSTANCE_STATE_", "").toLowerCase()}:${i.ready ? "ready" : "not-ready"}`)
    .sort();
}

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    address = (await h.startControl()).address;
    h.start(["agent", "--control", address, "--name", "node-r", "--data-dir", join(h.dir, "agent"), "--dns-listen", ""]);
    await eventually("node-r Ready", async () => ((await ctl("get", "nodes")).stdout.includes("Ready") ? true : undefined));
    const first = await ctl("apply", "-f", manifest("good", "v1"), "--wait", "--timeout", "30s");
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
  }),
);
afterAll(async () => {
  for (const w of ["web", "zoned"]) await ctl("delete", "workload", w);
  await h.stop();
});

test("a bad canary never takes a Ready copy away, is reverted automatically, and is refused again without --force", async () => {
  const bad = manifest("bad", "v2");
  expect((await ctl("apply", "-f", bad)).code).toBe(0);
  // Watch every state until the revert: the three generation-1 copies stay Ready throughout.
  const seen: string[][] = [];
  const reverted = await eventually(
    "the rollout reverted",
    async () => {
      const now = await copies();
      seen.push(now);
      const status = (await ctl("rollout", "status", "web")).stdout;
      return status.includes("generation 3") ? status : undefined;
    },
    30_000,
    200,
  );
  expect(reverted).toContain("reverted from generation 2");
  for (const snapshot of seen) expect(snapshot.filter((c) => c.includes(":1:running:ready"))).toHaveLength(3);
  await eventually("the canary gone", async () => ((await copies()).some((c) => c.includes(":2:")) ? undefined : true));
  expect(await copies()).toEqual(["web-0:1:running:ready", "web-1:1:running:ready", "web-2:1:running:ready"]);

  const again = await ctl("apply", "-f", bad);
  expect(again.code).toBe(1);
  expect(again.stderr).toContain("this spec's rollout (generation 2) failed and was reverted");
  expect(again.stderr).toContain("--force");
  const history = await ctl("history", "web");
  expect(history.stdout).toContain("RolloutReverted");
});

test("a good canary holds until `rollout promote`, then the rest roll", async () => {
  expect((await ctl("apply", "-f", manifest("good", "v4"))).code).toBe(0);
  const held = await eventually("the canary Ready and held", async () => {
    const status = (await ctl("rollout", "status", "web")).stdout;
    return status.includes("canary: held until promoted (1 of 1 canary available)") ? status : undefined;
  });
  expect(held).toContain("copies: 3 of generation 1, 1 of generation 4");
  const promoted = await ctl("rollout", "promote", "web");
  expect(promoted.stderr).toBe("");
  expect(promoted.code).toBe(0);
  await eventually("every copy at generation 4", async () => {
    const now = await copies();
    return now.length === 3 && now.every((c) => c.includes(":4:running:ready")) ? true : undefined;
  }, 30_000);
  expect((await ctl("rollout", "status", "web")).stdout).toContain("generation 4: complete");
  const nothing = await ctl("rollout", "promote", "web");
  expect(nothing.stderr).toContain("nothing to promote");
});

test("a three-wave rollout across labelled nodes replaces wave by wave, as Watch shows; pause holds it", async () => {
  for (const zone of ["a", "b", "c"]) h.start(["agent", "--control", address, "--name", `zone-${zone}`, "--label", `zone=${zone}`, "--data-dir", join(h.dir, `zone-${zone}`), "--dns-listen", ""]);
  for (const zone of ["a", "b", "c"]) await eventually(`zone-${zone} Ready`, async () => ((await ctl("get", "nodes")).stdout.match(new RegExp(`zone-${zone}\\s+Ready`)) ? true : undefined));
  const zoned = (version: string) => {
    const file = join(h.dir, `zoned-${version}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        name: "zoned",
        spec: {
          command: "/bin/sh",
          args: ["-c", "exec sleep 3600", version],
          replicas: 3,
          nodeSelector: {},
          checks: [{ name: "up", exec: { command: "/bin/true" }, interval: "0.2s" }],
          update: { maxSurge: 0, maxUnavailable: 1, minHealthyTime: "1s", waves: [{ nodeSelector: { zone: "a" } }, { nodeSelector: { zone: "b" } }] },
        },
      }),
    );
    return file;
  };
  // One copy in each zone (placement spreads; node-r, holding web, is the fullest).
  await ctl("cordon", "node-r");
  const first = await ctl("apply", "-f", zoned("v1"), "--wait", "--timeout", "30s");
  expect(first.code).toBe(0);
  const nodesOf = async () => (JSON.parse((await ctl("get", "instances", "zoned", "-o", "json")).stdout).instances as Array<{ node: string; desiredState: string }>).filter((i) => i.desiredState === "DESIRED_STATE_RUN").map((i) => i.node).sort();
  expect(await nodesOf()).toEqual(["zone-a", "zone-b", "zone-c"]);

  const channel = adminChannel(join(h.dir, "control"));
  const client = new ControlPlaneClient(address, channel.creds, channel.options);
  const events: Event[] = [];
  const watch = client.watch({ afterSequence: 0, workload: "zoned" });
  watch.on("data", (r: { event?: Event }) => r.event && events.push(r.event));
  watch.on("error", () => {});
  try {
    expect((await ctl("rollout", "pause", "zoned")).code).toBe(0);
    expect((await ctl("apply", "-f", zoned("v2"))).code).toBe(0);
    await eventually("the pause reported", async () => ((await ctl("rollout", "status", "zoned")).stdout.includes("paused") ? true : undefined));
    expect(events.filter((e) => e.type === "InstanceTransitioned" && e.detail.includes('"stop"'))).toEqual([]);
    expect((await ctl("rollout", "resume", "zoned")).code).toBe(0);
    await eventually("every copy at generation 2, complete", async () => ((await ctl("rollout", "status", "zoned")).stdout.includes("generation 2: complete") ? true : undefined), 40_000);
    const seen = events.map((e) => ({ type: e.type, node: e.node, summary: e.summary }));
    const waves = seen.filter((e) => e.type === "RolloutWaveStarted").map((e) => e.summary.replace(/ started.*/, ""));
    expect(waves).toEqual(["zoned rollout wave 1 of 3", "zoned rollout wave 2 of 3", "zoned rollout wave 3 of 3"]);
    // Each wave's old copy stopped before the next wave started, in zone order.
    const order = seen.filter((e) => e.type === "RolloutWaveStarted" || (e.type === "InstanceTransitioned" && e.summary.includes("stopping: update"))).map((e) => (e.type === "RolloutWaveStarted" ? "wave" : "stop"));
    expect(order).toEqual(["wave", "stop", "wave", "stop", "wave", "stop"]);
  } finally {
    watch.cancel();
    client.close();
    await ctl("uncordon", "node-r");
  }
  const history = await ctl("rollout", "history", "zoned");
  // apply --wait waited for v1's copies to soak: its rollout completed before v2 came.
  expect(history.stdout).toMatch(/^1\s.*applied\s+complete$/m);
  expect(history.stdout).toMatch(/^2\s.*applied\s+complete$/m);
  const undo = await ctl("rollout", "undo", "zoned", "--to-revision", "1");
  expect(undo.code).toBe(0);
  expect(undo.stdout).toContain("rolled back (generation 3)");
  const missing = await ctl("rollout", "undo", "zoned", "--to-revision", "9");
  expect(missing.stderr).toContain("has no revision 9 in the event log");
});
