/**
 * Properties 39 and 40 (ARCHITECTURE.md). 39: no secret's payload is in what the log records, whatever the
 * sequence of puts and deletes; replaying the logged events gives the same versions, less the
 * payloads. 40: the versions workloads run with follow new versions and applies; under
 * on_change SIGNAL or NONE no copy is replaced for them, and each running copy was last sent
 * the versions its spec names (fast-check, fixed printed seed).
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import type { Command } from "../../src/core/decide/commands.js";
import { decide } from "../../src/core/decide/decide.js";
import { loggedForm } from "../../src/core/events/event-facts.js";
import { evolve, replay } from "../../src/core/events/evolve.js";
import type { ClusterEvent } from "../../src/core/events/cluster-events.js";
import { emptyState } from "../../src/core/model/cluster-state.js";
import { secretNeeds, usesSet } from "../../src/core/model/secret-use.js";
import { type SecretKeyInfo, secretId } from "../../src/core/model/secrets.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { OnChange } from "../../src/gen/tessera/v1/types.js";
import { spec } from "../core/fixtures.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261206);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 200);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);
const params = { seed: SEED, numRuns: RUNS, includeErrorInReport: true };

const T0 = 1_700_000_000_000;

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    type: fc.constant("PutSecret" as const),
    kind: fc.constantFrom("secret" as const, "config" as const),
    name: fc.constantFrom("db", "api", "tls"),
    keys: fc.uniqueArray(fc.record({ key: fc.constantFrom("password", "user", "cert.pem"), size: fc.nat({ max: 100_000 }) }), { maxLength: 3, selector: (k) => k.key }),
    digest: fc.constantFrom("d1", "d2", "d3"),
    payload: fc.integer({ min: 0, max: 1_000_000 }).map((n) => `PAYLOAD-${n}-END`),
    create: fc.boolean(),
    by: fc.constant("admin"),
  }),
  fc.record({ type: fc.constant("DeleteSecret" as const), kind: fc.constantFrom("secret" as const, "config" as const), name: fc.constantFrom("db", "api", "tls"), by: fc.constant("admin") }),
);

test("invariant 39: no payload is logged; replaying the log gives the same versions without payloads", () => {
  fc.assert(
    fc.property(fc.array(commandArb, { maxLength: 30 }), (commands) => {
      const state = emptyState();
      const logged: ClusterEvent[] = [];
      commands.forEach((c, i) => {
        for (const e of decide(state, c, T0 + i).events) {
          evolve(state, e);
          logged.push(loggedForm(e));
        }
      });
      expect(JSON.stringify(logged)).not.toContain("PAYLOAD-");
      const strip = (s: typeof state.secrets) => [...s].map(([id, r]) => [id, { ...r, versions: r.versions.map(({ payload: _, ...v }) => v) }]);
      expect(strip(replay(logged).secrets)).toEqual(strip(state.secrets));
    }),
    params,
  );
});

/** A workload using secret db (and, for some, config app). */
const userSpec = (config: boolean) =>
  spec({ secrets: [{ name: "db", mountPath: "" }], ...(config ? { configs: [{ name: "app", mountPath: "" }] } : {}) });

const stepArb: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    type: fc.constant("PutSecret" as const),
    kind: fc.constantFrom("secret" as const, "config" as const),
    name: fc.constantFrom("db", "app"),
    keys: fc.constant([{ key: "k", size: 1 }] as SecretKeyInfo[]),
    digest: fc.constantFrom("d1", "d2", "d3", "d4"),
    payload: fc.constant("p"),
    create: fc.boolean(),
    by: fc.constant("admin"),
  }),
  fc.record({ type: fc.constant("ApplyWorkload" as const), name: fc.constantFrom("w1", "w2", "w3"), labels: fc.constant({}), spec: fc.boolean().map(userSpec) }),
  fc.record({ type: fc.constant("RollbackWorkload" as const), name: fc.constantFrom("w1", "w2", "w3") }),
);

test("invariant 40: after a new version, every workload using it names it; an apply names the current versions", () => {
  fc.assert(
    fc.property(fc.array(stepArb, { maxLength: 30 }), (commands) => {
      const state = emptyState();
      commands.forEach((c, i) => {
        const d = decide(state, c, T0 + i);
        for (const e of d.events) evolve(state, e);
        const newVersion = d.events.find((e) => e.type === "SecretUpdated");
        if (newVersion?.type === "SecretUpdated") {
          for (const w of state.workloads.values()) {
            if (usesSet(w.spec, newVersion.kind, newVersion.name)) expect(w.spec.secretVersions[secretId(newVersion.kind, newVersion.name)]).toBe(newVersion.version);
          }
        }
        if (c.type === "ApplyWorkload" && !d.rejection) {
          for (const need of secretNeeds(state.workloads.get(c.name)!.spec).sets) {
            const r = state.secrets.get(secretId(need.kind, need.name));
            expect(need.version).toBe(r === undefined ? undefined : r.versions.at(-1)!.version);
          }
        }
      });
    }),
    params,
  );
});

/** A step of a fleet whose workload refreshes in place: a new version of its config, a control plane restart, time. */
type RefreshStep = { put: string } | { restart: number } | { advance: number };
const refreshStepArb: fc.Arbitrary<RefreshStep> = fc.oneof(
  fc.record({ put: fc.constantFrom("d1", "d2", "d3", "d4") }),
  fc.record({ restart: fc.integer({ min: 0, max: 20_000 }) }),
  fc.record({ advance: fc.integer({ min: 0, max: 10_000 }) }),
);

test("invariant 40 under on_change SIGNAL or NONE: no copy is replaced for a new version, and each running copy was last sent its spec's versions", () => {
  fc.assert(
    fc.property(fc.constantFrom(OnChange.ON_CHANGE_SIGNAL, OnChange.ON_CHANGE_NONE), fc.array(refreshStepArb, { maxLength: 15 }), (onChange, steps) => {
      const f = new SimulatedFleet();
      /** The versions each copy was last sent: by its start, then by each refresh. */
      const sent = new Map<string, Record<string, number>>();
      f.onTurn = (r) => {
        for (const e of r.effects) if (e.type === "StartInstance" || e.type === "RefreshSecrets") sent.set(e.instanceId, e.spec.secretVersions);
      };
      f.connect({ name: "n1", capacity: { cpuMillis: 8_000, memoryMb: 8_192 }, labels: {} });
      const put = (digest: string, create: boolean): Command => ({ type: "PutSecret", kind: "config", name: "app", keys: [{ key: "k", size: 1 }], digest, payload: "p", create, by: "admin" });
      f.turn([put("d0", true)]);
      f.turn([{ type: "ApplyWorkload", name: "web", labels: {}, spec: spec({ replicas: 2, configs: [{ name: "app", mountPath: "" }], onChange }) }]);
      f.settle();
      const running = () => [...f.state.instances.values()].filter((i) => i.desired === "run" && i.state === "running").map((i) => i.id);
      const copies = running();
      for (const step of steps) {
        if ("put" in step) f.turn([put(step.put, false)]);
        else if ("restart" in step) f.restart(step.restart, 100);
        else f.advance(step.advance);
        f.settle();
      }
      expect(running()).toEqual(copies);
      const versions = f.state.workloads.get("web")!.spec.secretVersions;
      for (const id of copies) expect(sent.get(id)).toEqual(versions);
    }),
    params,
  );
});
