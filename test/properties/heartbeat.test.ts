/**
 * Invariant 42 of ARCHITECTURE.md (#33; fast-check, fixed printed seed): the heartbeat scaled
 * to the fleet.
 * - For any fleet size and policy, the interval agents are told keeps the fleet's heartbeats a
 *   second under the cap, and the Offline threshold is above the Suspect threshold, which is
 *   above the interval and a window of the gateway's late recording.
 * - A fleet beating at the interval it is told (each beat recorded up to a window late, every
 *   agent beating at once when told a new one), through the writer's own turn and its wake-ups:
 *   no node that beats is ever judged Suspect, and a node that stops is Offline within the
 *   Offline threshold of the fleet's size after its last beat was recorded.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Command } from "../../src/core/decide/commands.js";
import { replay } from "../../src/core/events/evolve.js";
import { BASE_HEARTBEAT_MS, fleetHeartbeat, heartbeatTiming, toldIntervalMs } from "../../src/core/model/heartbeat.js";
import { DEFAULT_POLICY, nextWakeup, type Plan, type Policy } from "../../src/core/reconcile/reconcile.js";
import { runTurn } from "../../src/core/reconcile/turn.js";
import { HEARTBEAT_WINDOW_MS } from "../../src/control/grpc/agent-heartbeats.js";
import { nodeConnected, T0 } from "../core/fixtures.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261206);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 100);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);
const params = { seed: SEED, numRuns: RUNS, includeErrorInReport: true };

/** Thresholds an operator may configure: Offline after Suspect, as `tessera control` requires. */
const policyArb = (minSuspectMs: number) =>
  fc
    .record({ cap: fc.integer({ min: 1, max: 100_000 }), suspect: fc.integer({ min: minSuspectMs, max: 120_000 }), gap: fc.integer({ min: 1, max: 120_000 }) })
    .map(({ cap, suspect, gap }): Policy => ({ ...DEFAULT_POLICY, maxHeartbeatsPerSecond: cap, suspectAfterMs: suspect, offlineAfterMs: suspect + gap }));

describe("42: the heartbeat interval and thresholds for any fleet size and policy", () => {
  test("heartbeats a second under the cap; Offline > Suspect > interval (+ a window) once stretched; never tighter than configured", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), policyArb(1), (fleet, policy) => {
        const t = heartbeatTiming(fleet, policy);
        expect(t.intervalMs % BASE_HEARTBEAT_MS).toBe(0);
        expect(fleet / (t.intervalMs / 1_000)).toBeLessThanOrEqual(policy.maxHeartbeatsPerSecond);
        expect(t.offlineAfterMs).toBeGreaterThan(t.suspectAfterMs);
        expect(t.suspectAfterMs).toBeGreaterThanOrEqual(policy.suspectAfterMs);
        expect(t.offlineAfterMs).toBeGreaterThanOrEqual(policy.offlineAfterMs);
        if (toldIntervalMs(t) > 0) expect(t.suspectAfterMs).toBeGreaterThan(t.intervalMs + HEARTBEAT_WINDOW_MS);
        // At one second the configured thresholds hold; they are the operator's, for agents beating at their own pace.
        else expect([t.intervalMs, t.suspectAfterMs, t.offlineAfterMs]).toEqual([BASE_HEARTBEAT_MS, policy.suspectAfterMs, policy.offlineAfterMs]);
        // A larger fleet never beats faster.
        expect(heartbeatTiming(fleet + 1, policy).intervalMs).toBeGreaterThanOrEqual(t.intervalMs);
      }),
      params,
    );
  });
});

interface Agent {
  name: string;
  session: number;
  /** When it beats next; undefined once stopped. */
  next: number | undefined;
  /** Its beats so far (which lateness each gets). */
  beats: number;
  stopsAt: number;
  /** Once stopped and judged Offline, the operator removes it (one removal a turn). */
  removed: boolean;
  /** When its last beat was recorded, and when it was judged Offline. */
  recorded: number;
  offlineAt?: number;
}

/**
 * One fleet's run: agents beating at the interval they are told until they stop, each beat
 * recorded `lateness` after it was sent; the writer's turns at the beats and at its wake-ups.
 * Returns what was flagged: a node that beats judged anything but Ready.
 */
function run(policy: Policy, size: number, phases: number[], lateness: number[], stops: Array<{ at: number; remove: boolean } | undefined>): { agents: Agent[]; flagged: string[] } {
  const state = replay(Array.from({ length: size }, (_, i) => nodeConnected(`n${i}`, T0, { session: i + 1 })));
  const intervalOf = () => fleetHeartbeat(state, policy).intervalMs;
  let interval = intervalOf();
  const agents: Agent[] = Array.from({ length: size }, (_, i) => {
    const stop = stops[i % stops.length];
    return { name: `n${i}`, session: i + 1, next: T0 + (phases[i % phases.length]! % interval), beats: i, stopsAt: stop?.at ?? Number.POSITIVE_INFINITY, removed: stop?.remove ?? false, recorded: T0 };
  });
  const flagged: string[] = [];
  const end = T0 + 40_000 + 2 * heartbeatTiming(size, policy).offlineAfterMs;
  const lateOf = (a: Agent) => lateness[a.beats % lateness.length]!;
  let last: Plan | undefined;
  /** When the interval last changed: an operator removes a node once every agent beat since (heard of it). */
  let changedAt = T0;
  for (let now = T0; now < end; ) {
    const heard: Array<{ node: string; session: number }> = [];
    for (const a of agents) {
      if (a.next !== undefined && a.next >= a.stopsAt) a.next = undefined;
      if (a.next === undefined || a.next + lateOf(a) > now) continue;
      heard.push({ node: a.name, session: a.session });
      a.recorded = now;
      a.beats++;
      a.next += interval;
    }
    const settled = agents.every((a) => a.next === undefined || a.recorded >= changedAt);
    const gone = settled ? agents.find((a) => a.removed && a.offlineAt !== undefined && state.nodeIdentities.get(a.name)?.removed !== true) : undefined;
    const commands: Command[] = [...(heard.length > 0 ? [{ type: "Heartbeats" as const, beats: heard }] : []), ...(gone ? [{ type: "RemoveNode" as const, node: gone.name, by: "admin" }] : [])];
    const result = runTurn(state, commands, { now, policy, reconcile: true });
    last = result.plan ?? last;
    for (const h of result.plan?.health ?? []) {
      const a = agents.find((x) => x.name === h.node)!;
      if (a.next !== undefined) flagged.push(`${h.node} beats every ${interval} ms yet went ${h.to} at +${now - T0} ms, last recorded at +${a.recorded - T0} ms`);
      if (h.to === "offline") a.offlineAt ??= now;
    }
    if (intervalOf() !== interval) {
      // Told a new interval, each agent beats at once, then at the new one.
      interval = intervalOf();
      changedAt = now;
      for (const a of agents) if (a.next !== undefined) a.next = now;
      continue;
    }
    const due = [...agents.flatMap((a) => (a.next === undefined ? [] : [Math.min(a.next, a.stopsAt), a.next + lateOf(a)])), nextWakeup(state, policy, last) ?? end, end];
    now = Math.min(...due.filter((t) => t > now));
  }
  return { agents, flagged };
}

describe("42: a fleet beating at the interval it is told", () => {
  test("no node that beats is judged Suspect; a node that stops is Offline within the fleet's Offline threshold", () => {
    const policies = fc
      .record({ cap: fc.integer({ min: 1, max: 20 }), suspect: fc.integer({ min: 2 * BASE_HEARTBEAT_MS + 2 * HEARTBEAT_WINDOW_MS + 1, max: 8_000 }), gap: fc.integer({ min: 1, max: 8_000 }) })
      // Suspect later than a two-second beat recorded a window late, and the beat told at once
      // a window late too: what agents still at 2 s need when a removal brings the fleet back
      // to one second (the default 3 s is).
      .map(({ cap, suspect, gap }): Policy => ({ ...DEFAULT_POLICY, maxHeartbeatsPerSecond: cap, suspectAfterMs: suspect, offlineAfterMs: suspect + gap }));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        policies,
        fc.array(fc.nat(60_000), { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: HEARTBEAT_WINDOW_MS }), { minLength: 1, maxLength: 10 }),
        fc.array(fc.option(fc.record({ at: fc.integer({ min: T0, max: T0 + 30_000 }), remove: fc.boolean() }), { nil: undefined }), { minLength: 1, maxLength: 40 }),
        (size, policy, phases, lateness, stops) => {
          const { agents, flagged } = run(policy, size, phases, lateness, stops);
          expect(flagged).toEqual([]);
          const bound = heartbeatTiming(size, policy).offlineAfterMs + 1;
          for (const a of agents.filter((x) => x.next === undefined)) {
            expect(a.offlineAt).toBeDefined();
            expect(a.offlineAt! - a.recorded).toBeLessThanOrEqual(bound);
          }
        },
      ),
      params,
    );
  });
});
