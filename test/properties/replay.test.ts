/**
 * Golden logs (test/fixtures, recorded by `make fixtures`) check invariant 8 of ARCHITECTURE.md:
 * replaying the recorded turns through the core reproduces the recorded plans and events
 * exactly; folding the recorded events rebuilds the final state; a tampered log fails loudly.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { replayLog, toLogged } from "../../src/core/events/event-log.js";
import { emptyState } from "../../src/core/model/cluster-state.js";
import { renderPlanJsonl } from "../../src/core/reconcile/plan-render.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { runTurn } from "../../src/core/reconcile/turn.js";
import type { RecordedTurn } from "../../src/sim/simulated-fleet.js";

const FIXTURES = join(import.meta.dir, "..", "fixtures");
const readJsonl = (file: string) =>
  readFileSync(join(FIXTURES, file), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));

for (const name of ["fleet-lifecycle"]) {
  describe(`golden log ${name}`, () => {
    const turns = readJsonl(`${name}.turns.jsonl`) as RecordedTurn[];
    const events = readJsonl(`${name}.events.jsonl`);
    const plans = readFileSync(join(FIXTURES, `${name}.plans.jsonl`), "utf8").split("\n").filter(Boolean);

    test("8: replaying the recorded turns yields the recorded plans and events", () => {
      const state = emptyState();
      const produced: unknown[] = [];
      const rendered: string[] = [];
      for (const t of turns) {
        const r = runTurn(state, t.commands, { now: t.now, policy: DEFAULT_POLICY, reconcile: t.reconcile });
        produced.push(...r.events.map(toLogged));
        if (r.plan) rendered.push(...renderPlanJsonl(r.plan));
      }
      expect(rendered).toEqual(plans);
      expect(produced).toEqual(events);
      // The folded log is the live state.
      expect(replayLog(events)).toEqual(state);
    });

    test("the story it tells: rolling update, lost node replaced, crash restarted with backoff, drain, delete", () => {
      const lines = plans.map((l) => JSON.parse(l));
      const causes = new Set(lines.filter((l) => l.action === "place").map((l) => l.cause));
      expect([...causes].sort()).toEqual(["drain", "lost", "new", "restart", "update"]);
      expect(lines.some((l) => l.action === "markLost")).toBe(true);
      expect(lines.some((l) => l.skip === "restart-backoff")).toBe(true);
      expect(lines.some((l) => l.skip === "node-unreachable")).toBe(true);
    });

    test("a tampered log fails loudly, naming the event", () => {
      const dropCreate = events.filter((e) => !(e.type === "InstanceCreated" && e.id === "web-0.3"));
      expect(() => replayLog(dropCreate)).toThrow(/event \d+ \(InstanceTransitioned\): event log is inconsistent: unknown instance web-0.3/);

      const i = events.findIndex((e) => e.type === "InstanceTransitioned" && e.event.type === "run");
      const reordered = [...events];
      reordered[i] = { ...events[i], event: { type: "finish" } };
      expect(() => replayLog(reordered)).toThrow(/cannot finish from provisioning/);

      const future = [...events];
      future[0] = { ...events[0], v: 99 };
      expect(() => replayLog(future)).toThrow(/event 1: event schema version 99 is not supported/);
    });
  });
}
