/**
 * The heartbeat scaled to the fleet (#33): the interval and the Suspect and Offline thresholds
 * per fleet size, the reconciler judging nodes (and waking the writer) by the thresholds of the
 * fleet as recorded, and the gateway's window of beats decided as one command.
 */
import { describe, expect, test } from "bun:test";
import { decide } from "../../src/core/decide/decide.js";
import { evolve, replay } from "../../src/core/events/evolve.js";
import { BASE_HEARTBEAT_MS, DEFAULT_MAX_HEARTBEATS_PER_SECOND, fleetSize, heartbeatTiming, MIN_SLACK_MS, toldIntervalMs } from "../../src/core/model/heartbeat.js";
import { DEFAULT_POLICY, nextWakeup, plan } from "../../src/core/reconcile/reconcile.js";
import { nodeConnected, T0 } from "./fixtures.js";

describe("the interval and thresholds per fleet size, at the defaults (3 s Suspect, 5 s Offline, 1,000 heartbeats a second)", () => {
  test.each([
    { fleet: 0, interval: 1_000, suspect: 3_000, offline: 5_000 },
    { fleet: 1, interval: 1_000, suspect: 3_000, offline: 5_000 },
    { fleet: 1_000, interval: 1_000, suspect: 3_000, offline: 5_000 },
    { fleet: 1_001, interval: 2_000, suspect: 4_000, offline: 6_000 },
    { fleet: 2_000, interval: 2_000, suspect: 4_000, offline: 6_000 },
    { fleet: 5_000, interval: 5_000, suspect: 7_000, offline: 9_000 },
    { fleet: 10_000, interval: 10_000, suspect: 12_000, offline: 14_000 },
    { fleet: 10_001, interval: 11_000, suspect: 13_000, offline: 15_000 },
  ])("$fleet nodes: every $interval ms, Suspect after $suspect ms, Offline after $offline ms", ({ fleet, interval, suspect, offline }) => {
    expect(DEFAULT_POLICY.maxHeartbeatsPerSecond).toBe(DEFAULT_MAX_HEARTBEATS_PER_SECOND);
    expect(heartbeatTiming(fleet, DEFAULT_POLICY)).toMatchObject({ intervalMs: interval, suspectAfterMs: suspect, offlineAfterMs: offline, startGraceMs: DEFAULT_POLICY.startGraceMs });
  });

  test("agents are told 0 (their own --heartbeat) while the fleet beats every second, the interval beyond", () => {
    expect(toldIntervalMs(heartbeatTiming(1_000, DEFAULT_POLICY))).toBe(0);
    expect(toldIntervalMs(heartbeatTiming(1_001, DEFAULT_POLICY))).toBe(2_000);
  });
});

describe("the interval and thresholds under other settings", () => {
  test.each([
    // A cap of 2: three nodes beat every 2 s; the configured slack (1.5 s - 1 s) is below MIN_SLACK_MS, which holds.
    { name: "a small cap, thresholds tighter than the default", fleet: 3, cap: 2, s: 1_500, o: 3_000, interval: 2_000, suspect: 4_000, offline: 5_500 },
    // Agents of the lab beat every 250 ms by their own flag: at one second the configured thresholds hold as they are.
    { name: "thresholds below a second's slack, the fleet small", fleet: 3, cap: 1_000, s: 1_000, o: 2_000, interval: 1_000, suspect: 1_000, offline: 2_000 },
    { name: "thresholds below a second's slack, the fleet large", fleet: 3_000, cap: 1_000, s: 1_000, o: 2_000, interval: 3_000, suspect: 5_000, offline: 6_000 },
    { name: "long thresholds keep their slack", fleet: 100, cap: 10, s: 30_000, o: 60_000, interval: 10_000, suspect: 39_000, offline: 69_000 },
  ])("$name: $fleet nodes at $cap a second: every $interval ms, Suspect after $suspect ms, Offline after $offline ms", ({ fleet, cap, s, o, interval, suspect, offline }) => {
    expect(heartbeatTiming(fleet, { ...DEFAULT_POLICY, maxHeartbeatsPerSecond: cap, suspectAfterMs: s, offlineAfterMs: o })).toMatchObject({ intervalMs: interval, suspectAfterMs: suspect, offlineAfterMs: offline });
  });

  test("the interval is a whole number of seconds: a fleet growing one node at a time changes it once every cap nodes", () => {
    const intervals = new Set<number>();
    for (let fleet = 1; fleet <= 5_000; fleet++) intervals.add(heartbeatTiming(fleet, DEFAULT_POLICY).intervalMs);
    expect([...intervals]).toEqual([1_000, 2_000, 3_000, 4_000, 5_000]);
    expect(BASE_HEARTBEAT_MS).toBe(1_000);
    expect(MIN_SLACK_MS).toBe(2_000);
  });
});

describe("the reconciler judges nodes by the thresholds of the fleet as recorded", () => {
  /** Three nodes at a cap of 2 a second: every 2 s, Suspect after 4 s, Offline after 6 s (at the default 3 s and 5 s). */
  const capped = { ...DEFAULT_POLICY, maxHeartbeatsPerSecond: 2 };
  const fleet = (silence: number) => replay([nodeConnected("a", T0), nodeConnected("b", T0), nodeConnected("c", T0 - silence)]);

  test.each([
    { silence: 4_000, health: "ready" },
    { silence: 4_001, health: "suspect" },
    { silence: 6_000, health: "suspect" },
    { silence: 6_001, health: "offline" },
  ] as const)("a node of three silent for $silence ms is $health (at the default cap: not ready past 3 s)", ({ silence, health }) => {
    expect(plan(fleet(silence), T0, capped).health).toEqual(health === "ready" ? [] : [{ node: "c", from: "ready", to: health }]);
    expect(plan(fleet(silence), T0, DEFAULT_POLICY).health.map((h) => h.to)).toEqual([silence <= 5_000 ? "suspect" : "offline"]);
  });

  test("the writer wakes when the fleet's Suspect threshold passes", () => {
    expect(nextWakeup(fleet(0), capped, undefined)).toBe(T0 + 4_001);
    expect(nextWakeup(fleet(0), DEFAULT_POLICY, undefined)).toBe(T0 + 3_001);
  });

  test("an Offline node still counts; a removed one does not: the fleet left beats faster, its thresholds shrink back", () => {
    const state = fleet(0);
    state.nodes.get("a")!.health = "offline";
    expect(fleetSize(state)).toBe(3);
    const removed = decide(state, { type: "RemoveNode", node: "a", by: "admin" }, T0);
    for (const e of removed.events) evolve(state, e);
    expect(fleetSize(state)).toBe(2);
    expect(nextWakeup(state, capped, undefined)).toBe(T0 + 3_001);
    // Approved and enrolled again, it counts again.
    evolve(state, { type: "NodeApproved", at: T0, node: "a", by: "admin" });
    expect(fleetSize(state)).toBe(2);
    evolve(state, { type: "NodeCertified", at: T0, node: "a", serial: "0b", notAfter: T0 + 1, via: "join" });
    expect(fleetSize(state)).toBe(3);
  });
});

describe("a window of heartbeats (Heartbeats)", () => {
  test("records a heartbeat of each node on its current stream, and drops the others", () => {
    const state = replay([nodeConnected("a", T0, { session: 1 }), nodeConnected("b", T0, { session: 2 }), nodeConnected("c", T0, { session: 3 })]);
    state.nodes.get("c")!.health = "offline";
    const d = decide(state, { type: "Heartbeats", beats: [{ node: "a", session: 1 }, { node: "b", session: 9 }, { node: "c", session: 3 }, { node: "ghost", session: 4 }] }, T0 + 500);
    expect(d.rejection).toBeUndefined();
    expect(d.events).toEqual([{ type: "NodeHeartbeatReceived", at: T0 + 500, name: "a" }]);
  });

  test("a single Heartbeat is refused as before", () => {
    const state = replay([nodeConnected("a", T0, { session: 1 })]);
    expect(decide(state, { type: "Heartbeat", node: "a", session: 2 }, T0).rejection).toEqual({ kind: "StaleSession", node: "a" });
    expect(decide(state, { type: "Heartbeat", node: "x", session: 1 }, T0).rejection).toEqual({ kind: "UnknownNode", name: "x" });
  });
});
