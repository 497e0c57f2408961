/**
 * The gateway's heartbeats (#33): beats heard in a window go to the writer as one Heartbeats
 * command naming each node once (its latest stream), not a command each; the interval agents
 * are told follows the fleet's size. A fake writer records what it is handed.
 */
import { expect, test } from "bun:test";
import { AgentHeartbeats, HEARTBEAT_WINDOW_MS, intervalMessage } from "../../src/control/grpc/agent-heartbeats.js";
import type { CommandPort } from "../../src/control/writer/writer.js";
import type { Command } from "../../src/core/decide/commands.js";
import { replay } from "../../src/core/events/evolve.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import type { Logger } from "../../src/shell/logger.js";
import { nodeConnected, T0 } from "../core/fixtures.js";
import { eventually } from "../e2e/harness.js";

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };

function fakeWriter(nodes: number): { port: CommandPort; submitted: Command[] } {
  const state = replay(Array.from({ length: nodes }, (_, i) => nodeConnected(`n${i}`, T0, { session: i + 1 })));
  const submitted: Command[] = [];
  const port = { view: state, submit: (c: Command) => (submitted.push(c), Promise.resolve({ events: [], effects: [] })) } as unknown as CommandPort;
  return { port, submitted };
}

test("a window's beats are one Heartbeats command, each node once with its latest stream", async () => {
  const { port, submitted } = fakeWriter(3);
  const hb = new AgentHeartbeats(port, DEFAULT_POLICY, silent);
  hb.beat("n0", 1);
  hb.beat("n1", 2);
  hb.beat("n0", 1);
  hb.beat("n2", 3);
  hb.beat("n2", 7);
  expect(submitted).toEqual([]);
  await eventually("the window handed over", () => (submitted.length > 0 ? true : undefined), 5_000, 10);
  expect(submitted).toEqual([{ type: "Heartbeats", beats: [{ node: "n0", session: 1 }, { node: "n1", session: 2 }, { node: "n2", session: 7 }] }]);
  // The next window starts with the next beat.
  hb.beat("n1", 2);
  await eventually("the next window handed over", () => (submitted.length > 1 ? true : undefined), 5_000, 10);
  expect(submitted[1]).toEqual({ type: "Heartbeats", beats: [{ node: "n1", session: 2 }] });
  expect(HEARTBEAT_WINDOW_MS).toBeLessThanOrEqual(250);
});

test("beats of streams all ended are dropped with them", async () => {
  const { port, submitted } = fakeWriter(1);
  const hb = new AgentHeartbeats(port, DEFAULT_POLICY, silent);
  hb.beat("n0", 1);
  hb.drop();
  hb.beat("n0", 2);
  await eventually("the window handed over", () => (submitted.length > 0 ? true : undefined), 5_000, 10);
  expect(submitted).toEqual([{ type: "Heartbeats", beats: [{ node: "n0", session: 2 }] }]);
});

test("the interval told follows the fleet: 0 (the agents' own) up to the cap, then whole seconds, the thresholds with it", () => {
  const { port } = fakeWriter(3);
  const hb = new AgentHeartbeats(port, { ...DEFAULT_POLICY, maxHeartbeatsPerSecond: 3 }, silent);
  expect(hb.toldMs).toBe(0);
  expect(hb.thresholds).toMatchObject({ suspectAfterMs: 3_000, offlineAfterMs: 5_000 });
  expect(hb.refresh()).toBe(false);
  (port.view.nodes as Map<string, unknown>).set("n3", { ...port.view.nodes.get("n0")!, name: "n3" });
  expect(hb.refresh()).toBe(true);
  expect(hb.toldMs).toBe(2_000);
  expect(hb.thresholds).toMatchObject({ suspectAfterMs: 4_000, offlineAfterMs: 6_000 });
  expect(intervalMessage(2_000)).toEqual({ commandId: 0, command: { $case: "heartbeatInterval", value: { intervalMs: 2_000 } } });
});
