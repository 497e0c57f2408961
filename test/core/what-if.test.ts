/** What-if over a recorded log: moving one input moves what the core decides from it. */
import { expect, test } from "bun:test";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { isVolatile } from "../../src/core/events/event-facts.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { compareReruns, describeDecision, recordedTurns, rerunInputs, shiftInput } from "../../src/core/events/what-if.js";
import { CAPACITY, specWithoutSoak as spec } from "./fixtures.js";

/** Two nodes, three copies; node-1 goes silent until it is Offline and its copies are replaced. */
function lostNodeFleet(): SimulatedFleet {
  const fleet = new SimulatedFleet(DEFAULT_POLICY);
  for (const name of ["node-0", "node-1"]) fleet.connect({ name, capacity: CAPACITY, labels: {} });
  fleet.turn([{ type: "ApplyWorkload", name: "web", labels: {}, spec: spec({ replicas: 3 }) }]);
  fleet.settle();
  fleet.kill("node-1");
  fleet.advance(DEFAULT_POLICY.offlineAfterMs + 2_000);
  fleet.settle();
  return fleet;
}

/** The fleet's log as the store keeps it: the events that are not volatile, numbered. */
const logOf = (fleet: SimulatedFleet) => fleet.events.filter((e) => !isVolatile(e)).map((event, i) => ({ seq: i + 1, event }));

const lostNodeLog = () => logOf(lostNodeFleet());

const losses = (turns: ReturnType<typeof rerunInputs>["turns"]) =>
  turns.flatMap((t) => t.decisions.flatMap((d) => (d.type === "InstanceTransitioned" && d.event.type === "lose" ? [`${t.at} ${d.id}`] : [])));

test("moving the Offline change 30 s later moves the losses with it", () => {
  const log = lostNodeLog();
  const turns = recordedTurns(log);
  const offline = log.find((l) => l.event.type === "NodeHealthChanged" && l.event.to === "offline")!;
  const baseline = rerunInputs(turns, DEFAULT_POLICY);
  const lost = losses(baseline.turns);
  expect(lost.length).toBeGreaterThan(0);
  for (const l of lost) expect(l.startsWith(`${offline.event.at} `)).toBe(true);

  const moved = rerunInputs(shiftInput(turns, offline.seq, 30_000), DEFAULT_POLICY);
  expect(losses(moved.turns)).toEqual(lost.map((l) => l.replace(`${offline.event.at}`, `${offline.event.at + 30_000}`)));
  // The agents' reports about the replacements made then name copies that now come later.
  const replacements = baseline.turns.filter((t) => t.at === offline.event.at).flatMap((t) => t.decisions.flatMap((d) => (d.type === "InstanceCreated" ? [d.id] : [])));
  expect(replacements.length).toBe(lost.length);
  const skipped = moved.turns.flatMap((t) => t.skipped.map((s) => s.event));
  expect(skipped.length).toBeGreaterThan(0);
  for (const e of skipped) expect(e.type === "InstanceTransitioned" && replacements.includes(e.id)).toBe(true);
});

test("an input moved before what it names exists is skipped, not applied", () => {
  const log = lostNodeLog();
  const turns = recordedTurns(log);
  const run = log.find((l) => l.event.type === "InstanceTransitioned" && l.event.event.type === "run")!;
  const moved = rerunInputs(shiftInput(turns, run.seq, -60_000), DEFAULT_POLICY);
  expect(moved.turns.flatMap((t) => t.skipped.map((s) => s.seq))).toEqual([run.seq]);
});

/**
 * node-1 is lost with web's copies there; 10 s later api is applied, so its copies take
 * ids after the replacements' in the log. A what-if with node-1 Offline 30 s later creates the
 * replacements after api's copies: every id shifts, but the same copies are the same.
 */
function lostNodeThenApplyLog() {
  const fleet = lostNodeFleet();
  fleet.advance(10_000);
  fleet.turn([{ type: "ApplyWorkload", name: "api", labels: {}, spec: spec({ replicas: 2 }) }]);
  fleet.settle();
  fleet.turn([{ type: "RestartWorkload", name: "api" }]);
  fleet.settle();
  fleet.advance(40_000);
  fleet.settle();
  return logOf(fleet);
}

test("a node Offline 30 s later differs only in what follows from it: its copies' loss and replacement move, nothing else", () => {
  const log = lostNodeThenApplyLog();
  const turns = recordedTurns(log);
  const offline = log.find((l) => l.event.type === "NodeHealthChanged" && l.event.to === "offline")!;
  const t = offline.event.at;
  const baseline = rerunInputs(turns, DEFAULT_POLICY);
  const moved = rerunInputs(shiftInput(turns, offline.seq, 30_000), DEFAULT_POLICY);

  // The oracle, from the log as recorded: web's decisions when node-1 went Offline (its copies
  // lost, their replacements created and placed) happen 30 s later instead, and that is all.
  const then = baseline.turns.filter((x) => x.at === t).flatMap((x) => x.decisions.map((d) => describeDecision(d)));
  const lost = then.filter((d) => d.endsWith(" lose")).length;
  expect(lost).toBeGreaterThan(0);
  expect(then.filter((d) => d.endsWith(" created"))).toHaveLength(lost);
  const { added, gone } = compareReruns(baseline, moved);
  expect(gone).toEqual(then.map((what) => ({ at: t, what })));
  expect(added).toEqual(then.map((what) => ({ at: t + 30_000, what })));
  // The agents' reports about the replacements come before the what-if has them; api's all apply.
  const skipped = moved.turns.flatMap((x) => x.skipped.map((s) => s.event));
  expect(skipped.length).toBeGreaterThan(0);
  for (const e of skipped) expect(e.type === "InstanceTransitioned" && e.id.startsWith("web-")).toBe(true);
});
