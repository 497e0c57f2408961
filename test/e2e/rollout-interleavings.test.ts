/**
 * Rollouts used in sequence through dist/tessera (issue 26), on three labelled agents in two
 * zones: a wave's replacements stay in the waves that have started, as Watch's events show; a
 * spec applied while the last one's copies still soak never takes a Ready copy below
 * replicas − max_unavailable; a static-port copy on the only node that matches rolls, its old
 * copy stopped first (or, under maxUnavailable 0, waits saying why); a drain while a canary is
 * held moves the old copies as the old spec; an undo to an older revision mid-rollout keeps the
 * copies already on it.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ControlPlaneClient } from "../../src/gen/tessera/v1/control_plane.js";
import type { Event } from "../../src/gen/tessera/v1/types.js";
import { adminChannel, eventually, freeRange, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(90_000);

const h = new Harness();
let address = "";
let staticPort = 0;
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });
const ZONES: Record<string, string> = { a1: "a", b1: "b", b2: "b" };

/** Writes a manifest of `spec` for workload `name` at `version` (a changed argument: a new template). */
function manifest(name: string, version: string, spec: Record<string, unknown>): string {
  const file = join(h.dir, `${name}-${version}.json`);
  writeFileSync(file, JSON.stringify({ name, spec: { command: "/bin/sh", args: ["-c", "exec sleep 3600", version], checks: [{ name: "up", exec: { command: "/bin/true" }, interval: "0.2s" }], ...spec } }));
  return file;
}

interface Copy {
  id: string;
  node: string;
  generation: number;
  state: string;
  ready: boolean;
}

/** The copies of `workload` wanted running. */
async function copies(workload: string): Promise<Copy[]> {
  const out = JSON.parse((await ctl("get", "instances", workload, "-o", "json")).stdout) as {
    instances: Array<{ id: string; node: string; generation: string; desiredState: string; observedState: string; ready: boolean }>;
  };
  return out.instances
    .filter((i) => i.desiredState === "DESIRED_STATE_RUN")
    .map((i) => ({ id: i.id, node: i.node, generation: Number(i.generation), state: i.observedState.replace("INSTANCE_STATE_", "").toLowerCase(), ready: i.ready }));
}

/** The events of `workload` from the Watch RPC while `act` runs, until the RolloutCompleted naming `completed`. */
async function watching(workload: string, act: () => Promise<void>, completed: string): Promise<Event[]> {
  const channel = adminChannel(join(h.dir, "control"));
  const client = new ControlPlaneClient(address, channel.creds, channel.options);
  const events: Event[] = [];
  const watch = client.watch({ afterSequence: 0, workload });
  watch.on("data", (r: { event?: Event }) => r.event && events.push(r.event));
  watch.on("error", () => {});
  try {
    await act();
    await eventually("the Watch caught up", () => (events.some((e) => e.type === "RolloutCompleted" && e.summary.includes(completed)) ? true : undefined));
    return events;
  } finally {
    watch.cancel();
    client.close();
  }
}

async function apply(file: string): Promise<void> {
  const res = await ctl("apply", "-f", file);
  expect(res.stderr).toBe("");
  expect(res.code).toBe(0);
}

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    address = (await h.startControl()).address;
    const range = await freeRange(4);
    staticPort = range.to;
    for (const [name, zone] of Object.entries(ZONES)) {
      // b2 alone carries pool=p and advertises ports: the one node a pinned static-port service fits.
      const pinned = name === "b2" ? ["--label", "pool=p", "--advertise-address", "127.0.0.1", "--port-range", `${range.from}-${range.to}`] : [];
      h.start(["agent", "--control", address, "--name", name, "--label", `zone=${zone}`, ...pinned, "--data-dir", join(h.dir, name), "--dns-listen", ""]);
    }
    for (const name of Object.keys(ZONES)) await eventually(`${name} Ready`, async () => ((await ctl("get", "nodes")).stdout.match(new RegExp(`^${name}\\s+Ready`, "m")) ? true : undefined));
  }),
);
afterAll(async () => {
  for (const w of ["zoned", "soaked", "pinned", "undone", "held"]) await ctl("delete", "workload", w);
  await h.stop();
});

test("a wave's replacements go to the wave's nodes: no new copy runs in a wave that has not started", async () => {
  const spec = (version: string) => manifest("zoned", version, { replicas: 2, update: { maxSurge: 1, maxUnavailable: 0, waves: [{ nodeSelector: { zone: "a" } }, { nodeSelector: { zone: "b" } }] } });
  // Spread puts the two copies on a1 and b1; b2, empty, is where spread alone would put a surge copy.
  await apply(spec("v1"));
  await eventually("zoned v1 Ready", async () => ((await copies("zoned")).filter((c) => c.ready).length === 2 ? true : undefined), 20_000);
  expect((await copies("zoned")).map((c) => c.node).sort()).toEqual(["a1", "b1"]);

  const events = await watching("zoned", async () => {
    await apply(spec("v2"));
    await eventually("zoned generation 2 complete", async () => ((await ctl("rollout", "status", "zoned")).stdout.includes("generation 2: complete") ? true : undefined), 40_000);
  }, "generation 2");
  // In log order: each placement of a generation-2 copy, and the wave started when it was placed.
  const generation = new Map<string, number>();
  let started = 0;
  const placements: string[] = [];
  for (const e of events) {
    const detail = JSON.parse(e.detail) as { id?: string; generation?: number; event?: { type: string; node?: string } };
    if (e.type === "InstanceCreated") generation.set(detail.id!, detail.generation!);
    if (e.type === "RolloutWaveStarted") started = Number(/wave (\d+) of/.exec(e.summary)![1]);
    if (e.type === "InstanceTransitioned" && detail.event?.type === "place" && generation.get(detail.id!) === 2) placements.push(`${detail.event.node} (zone ${ZONES[detail.event.node!]}) in wave ${started}`);
  }
  expect(placements).toHaveLength(2);
  expect(placements[0]).toBe("a1 (zone a) in wave 1");
  expect(placements[1]).toMatch(/^b[12] \(zone b\) in wave 2$/);
});

test("a spec applied while the last one's copies still soak never takes a Ready copy below replicas − max_unavailable", async () => {
  const spec = (version: string) => manifest("soaked", version, { replicas: 3, update: { maxSurge: 1, maxUnavailable: 0, minHealthyTime: "5s" } });
  const events = await watching("soaked", async () => {
    await apply(spec("v1"));
    await eventually("soaked v1 Ready", async () => ((await copies("soaked")).filter((c) => c.ready).length === 3 ? true : undefined), 20_000);
    // Within the 5 s soak of v1's copies.
    await apply(spec("v2"));
    await eventually("soaked generation 2 complete", async () => ((await ctl("rollout", "status", "soaked")).stdout.includes("generation 2: complete") ? true : undefined), 60_000);
  }, "generation 2");
  // The log, folded: which copies serve (their check passing, not told to stop) after each stop.
  // Copies start and pass their checks within milliseconds: polling would miss a dip.
  const serving = new Set<string>();
  const low: string[] = [];
  for (const e of events) {
    const detail = JSON.parse(e.detail) as { id?: string; passing?: boolean; event?: { type: string } };
    if (e.type === "InstanceCheckReported" && detail.passing) serving.add(detail.id!);
    if (e.type !== "InstanceTransitioned" || !["stop", "fail", "lose"].includes(detail.event!.type) || !serving.delete(detail.id!)) continue;
    const replicas = new Set([...serving].map((id) => id.slice(0, id.lastIndexOf("."))));
    if (replicas.size < 3) low.push(`${e.summary}: ${replicas.size} replicas served`);
  }
  expect(low).toEqual([]);
  expect((await copies("soaked")).map((c) => `${c.generation}:${c.ready}`)).toEqual(["2:true", "2:true", "2:true"]);
});

test("a static-port copy on the only node that matches rolls under the default update: the old copy stops first", async () => {
  const spec = (version: string) => manifest("pinned", version, { replicas: 1, nodeSelector: { pool: "p" }, ports: [{ name: "http", static: staticPort }] });
  await apply(spec("v1"));
  await eventually("pinned v1 Ready on b2", async () => ((await copies("pinned")).some((c) => c.ready && c.node === "b2") ? true : undefined), 20_000);
  await apply(spec("v2"));
  await eventually("pinned generation 2 Ready on b2", async () => {
    const now = await copies("pinned");
    return now.length === 1 && now[0]!.generation === 2 && now[0]!.ready && now[0]!.node === "b2" ? true : undefined;
  }, 30_000);
  const history = (await ctl("history", "pinned")).stdout;
  expect(history).toContain("update: stopped before its replacement starts (it needs its place on b2)");
});

test("under maxUnavailable 0 the pinned copy's replacement waits Pending, saying what holds it", async () => {
  const spec = (version: string) => manifest("pinned0", version, { replicas: 1, nodeSelector: { pool: "p" }, ports: [{ name: "http", static: staticPort - 1 }], update: { maxUnavailable: 0, maxSurge: 1 } });
  await apply(spec("v1"));
  const old = await eventually("pinned0 v1 Ready on b2", async () => (await copies("pinned0")).find((c) => c.ready && c.node === "b2"), 20_000);
  await apply(spec("v2"));
  const waiting = await eventually("pinned0's generation 2 Pending", async () => {
    const out = JSON.parse((await ctl("get", "instances", "pinned0", "-o", "json")).stdout) as { instances: Array<{ generation: string; observedState: string; reason: string }> };
    return out.instances.find((i) => i.generation === "2");
  });
  expect(waiting.observedState).toBe("INSTANCE_STATE_PENDING");
  expect(waiting.reason).toEndWith(`; ${old.id} would have to stop first to make room on b2, and max_unavailable 0 keeps it running`);
  expect((await copies("pinned0")).find((c) => c.generation === 1)?.ready).toBe(true);
  await ctl("delete", "workload", "pinned0");
});

test("undo to revision 2 after v3 and v4, during wave 1: the copies of generation 2 stay, none replaced", async () => {
  const waves = [{ nodeSelector: { zone: "a" } }, { nodeSelector: { zone: "b" } }];
  // v3 and v4 soak 30 s: the undo comes while wave 1's surge copy still soaks.
  const spec = (version: string, minHealthyTime = "0s") => manifest("undone", version, { replicas: 2, update: { maxSurge: 1, maxUnavailable: 0, minHealthyTime, waves } });
  await apply(spec("v1"));
  await eventually("undone v1 Ready", async () => ((await copies("undone")).filter((c) => c.ready).length === 2 ? true : undefined), 20_000);
  await apply(spec("v2"));
  await eventually("undone generation 2 complete", async () => ((await ctl("rollout", "status", "undone")).stdout.includes("generation 2: complete") ? true : undefined), 40_000);
  const before = (await copies("undone")).map((c) => c.id).sort();
  await apply(spec("v3", "30s"));
  await eventually("wave 1 under way", async () => ((await copies("undone")).some((c) => c.generation === 3) ? true : undefined), 20_000);
  await apply(spec("v4", "30s"));
  const undo = await ctl("rollout", "undo", "undone", "--to-revision", "2");
  expect(undo.stderr).toBe("");
  expect(undo.code).toBe(0);
  const after = await eventually("back to v2's copies only", async () => {
    const now = await copies("undone");
    return now.length === 2 && now.every((c) => c.ready) ? now.map((c) => c.id).sort() : undefined;
  }, 30_000);
  expect(after).toEqual(before);
  expect((await ctl("history", "undone")).stdout).not.toMatch(new RegExp(`(${before.map((id) => id.replace(".", "\\.")).join("|")}) stopping`));
});

test("a drain while a canary is held moves the node's old copy as a copy of the old spec; the canary stays the only new one", async () => {
  // Only `held` on the fleet: its three copies one a node.
  for (const w of ["zoned", "soaked", "pinned", "pinned0", "undone"]) await ctl("delete", "workload", w);
  await eventually("the fleet empty", async () => ((await ctl("get", "instances")).stdout.trim().split("\n").length <= 1 ? true : undefined), 20_000);
  const spec = (version: string) => manifest("held", version, { replicas: 3, update: { canary: 1, autoPromote: false } });
  await apply(spec("v1"));
  await eventually("held v1 Ready", async () => ((await copies("held")).filter((c) => c.ready).length === 3 ? true : undefined), 20_000);
  await apply(spec("v2"));
  await eventually("the canary held", async () => ((await ctl("rollout", "status", "held")).stdout.includes("canary: held until promoted (1 of 1 canary available)") ? true : undefined), 20_000);
  const canary = (await copies("held")).find((c) => c.generation === 2)!;
  const node = (await copies("held")).find((c) => c.generation === 1 && c.node !== canary.node)!.node;
  try {
    const drained = await ctl("drain", node, "--timeout", "30s");
    expect(drained.stderr).toBe("");
    expect(drained.code).toBe(0);
    const now = await copies("held");
    expect(now.filter((c) => c.node === node)).toEqual([]);
    expect(now.map((c) => `${c.generation}:${c.ready}`).sort()).toEqual(["1:true", "1:true", "1:true", "2:true"]);
    expect((await ctl("rollout", "status", "held")).stdout).toContain("canary: held until promoted");
  } finally {
    await ctl("uncordon", node);
  }
});
