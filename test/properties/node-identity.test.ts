/**
 * Property 33 (ARCHITECTURE.md): a node name belongs to one certificate, against a model that
 * knows nothing of the core (fast-check, fixed printed seed).
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import { evolve } from "../../src/core/events/evolve.js";
import { emptyState } from "../../src/core/model/cluster-state.js";
import { storedState } from "../../src/core/events/stored-state.js";
import type { Command } from "../../src/core/decide/commands.js";
import { decide } from "../../src/core/decide/decide.js";
import { checkNodeCertificate } from "../../src/core/access/node-identity.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261206);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 200);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);
const params = { seed: SEED, numRuns: RUNS, includeErrorInReport: true };

const T0 = 1_700_000_000_000;
const JOIN = "a".repeat(64);
const BOOTSTRAP = "b".repeat(64);
const nodes = ["n1", "n2", "n3"];
/** The digests of the public keys an agent may enroll with. */
const keys = ["1".repeat(64), "2".repeat(64)];

type Step =
  | { op: "join"; node: string; bootstrap: boolean; key: string }
  | { op: "renew" | "connect"; node: string; presented: number }
  | { op: "approve" | "remove"; node: string };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant("join" as const), node: fc.constantFrom(...nodes), bootstrap: fc.boolean(), key: fc.constantFrom(...keys) }),
  fc.record({ op: fc.constantFrom("renew" as const, "connect" as const), node: fc.constantFrom(...nodes), presented: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ op: fc.constantFrom("approve" as const, "remove" as const), node: fc.constantFrom(...nodes) }),
);

test("invariant 33: a join token takes a name only when nobody holds it or an admin approved, or gives it again to the key it enrolled with (not since renewed nor removed); only the current certificate (or the one its renewal issued) connects and renews", () => {
  fc.assert(
    fc.property(fc.array(stepArb, { maxLength: 40 }), fc.integer({ min: 1, max: 4 }), (steps, uses) => {
      const state = emptyState();
      const apply = (c: Command) => {
        const d = decide(state, c, T0);
        for (const e of d.events) evolve(state, e);
        return d.rejection === undefined;
      };
      apply({ type: "IssueToken", kind: "join", hash: JOIN, by: "start" });
      apply({ type: "IssueToken", kind: "join", hash: BOOTSTRAP, by: "admin", uses, keepOthers: true });
      // The model: each name's current serial and the one a renewal (or an enrollment given
      // again) issued (null once removed: nothing is accepted), the key its join enrolled
      // (until it renews), its approval; the bootstrap token's uses.
      type Held = { serial: number | undefined; pending: number | undefined; key?: string } | null;
      const current = new Map<string, Held>();
      const approved = new Set<string>();
      let usesLeft = uses;
      let serial = 100;
      const accepts = (n: string, k: number): "current" | "adopt" | "refused" => {
        const held = current.get(n);
        if (held === null) return "refused";
        if (held === undefined || held.pending === k || (held.serial === undefined && held.pending === undefined)) return "adopt";
        return held.serial === k ? "current" : "refused";
      };
      for (const s of steps) {
        const held = current.get(s.node);
        // A serial to present: the current one, the renewed one, or any other (stale or unknown).
        const pick = (p: number) => (p % 3 === 0 && held?.serial !== undefined ? held.serial : p % 3 === 1 && held?.pending !== undefined ? held.pending : p);
        if (s.op === "join") {
          const next = ++serial;
          const free = !current.has(s.node) || approved.has(s.node);
          const again = !free && held?.key === s.key;
          const tokenWorks = !s.bootstrap || usesLeft > 0;
          const ok = apply({ type: "CertifyNode", node: s.node, serial: next.toString(16), notAfter: T0 + 1, proof: { via: "join", token: s.bootstrap ? BOOTSTRAP : JOIN }, keyDigest: s.key });
          expect(ok).toBe((free || again) && tokenWorks);
          if (ok) {
            // Given again: the new certificate waits beside the current one, as a renewal's.
            current.set(s.node, again ? { serial: held!.serial, pending: next, key: s.key } : { serial: next, pending: undefined, key: s.key });
            approved.delete(s.node);
            if (s.bootstrap) usesLeft--;
          }
        } else if (s.op === "renew") {
          const presented = pick(s.presented);
          const verdict = accepts(s.node, presented);
          const next = ++serial;
          const ok = apply({ type: "CertifyNode", node: s.node, serial: next.toString(16), notAfter: T0 + 1, proof: { via: "renewal", serial: presented.toString(16) } });
          expect(ok).toBe(verdict !== "refused");
          if (ok) current.set(s.node, { serial: held?.serial === undefined || presented === held.pending ? presented : held.serial, pending: next });
        } else if (s.op === "connect") {
          const presented = pick(s.presented);
          const verdict = accepts(s.node, presented);
          const ok = apply({ type: "CertifyNode", node: s.node, serial: presented.toString(16), notAfter: T0 + 1, proof: { via: "connection" } });
          expect(ok).toBe(verdict !== "refused");
          if (verdict === "adopt") current.set(s.node, { serial: presented, pending: undefined, key: held?.pending === presented ? held.key : undefined });
        } else if (s.op === "approve") {
          apply({ type: "ApproveNode", node: s.node, by: "admin" });
          approved.add(s.node);
          if (held === undefined) current.set(s.node, { serial: undefined, pending: undefined });
        } else {
          const ok = apply({ type: "RemoveNode", node: s.node, by: "admin" });
          expect(ok).toBe(current.has(s.node));
          if (ok) {
            current.set(s.node, null);
            approved.delete(s.node);
          }
        }
        // The index of removed names (what the fleet's size leaves out) is in step with the
        // identities, live and as rebuilt from the stored rows.
        const removed = [...state.nodeIdentities].flatMap(([n, identity]) => (identity.removed ? [n] : [])).sort();
        expect([...state.removedNodes].sort()).toEqual(removed);
        const rows = [...state.nodeIdentities].map(([node, identity]) => ({ node, ...identity }));
        expect([...storedState({ workloads: [], instances: [], nodes: [], nextInstanceSeq: 1, failures: [], tokens: [], nodeIdentities: rows }).removedNodes].sort()).toEqual(removed);
        for (const n of nodes) {
          for (let k = 0; k <= serial; k++) {
            const verdict = checkNodeCertificate(state, n, k.toString(16));
            expect(verdict === undefined ? "current" : verdict === "adopt" ? "adopt" : "refused").toBe(accepts(n, k));
          }
        }
      }
    }),
    params,
  );
});
