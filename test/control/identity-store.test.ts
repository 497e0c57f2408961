/**
 * Node identities and token limits in the store (each kind): what a restart of the control
 * plane (or a standby's load) knows of who may speak for a node and which tokens still work
 * is what the writer's state held (#27).
 */
import { expect, test } from "bun:test";
import type { Command } from "../../src/core/decide/commands.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { runTurn } from "../../src/core/reconcile/turn.js";
import { storeBackends } from "./store-backends.js";

const T0 = 1_000_000;
const JOIN = "a".repeat(64);
const BOOTSTRAP = "b".repeat(64);
const READONLY = "c".repeat(64);
const KEY = "e".repeat(64);

for (const backend of storeBackends("node identities on PostgreSQL")) {
  test.skipIf(backend.skip)(`${backend.name}: node identities, approvals, removals and token limits survive a restart of the store`, async () => {
    const { store, reopen } = await backend.fresh();
    const state = await store.load();
    const certify = (node: string, serial: string, proof: Extract<Command, { type: "CertifyNode" }>["proof"], keyDigest?: string): Command => ({ type: "CertifyNode", node, serial, notAfter: T0 + 5, proof, keyDigest });
    const commands: Command[] = [
      { type: "IssueToken", kind: "join", hash: JOIN, by: "start" },
      { type: "IssueToken", kind: "join", hash: BOOTSTRAP, by: "admin", expiresAt: T0 + 3_600_000, uses: 3, keepOthers: true },
      { type: "IssueToken", kind: "readonly", hash: READONLY, by: "admin" },
      certify("n1", "0a", { via: "join", token: BOOTSTRAP }, KEY),
      certify("n1", "0b", { via: "renewal", serial: "0a" }),
      certify("n2", "0c", { via: "join", token: JOIN }),
      { type: "RemoveNode", node: "n2", by: "admin" },
      { type: "ApproveNode", node: "n3", by: "admin" },
      { type: "RevokeToken", id: "sha256:cccccccccccc", by: "admin" },
      certify("n4", "0d", { via: "join", token: JOIN }, KEY),
      certify("n4", "0e", { via: "join", token: JOIN }, KEY),
    ];
    for (const c of commands) {
      const turn = runTurn(state, [c], { now: T0, policy: DEFAULT_POLICY, reconcile: false });
      expect(turn.decisions[0]!.rejection).toBeUndefined();
      await store.commit(turn.events, state);
    }
    await store.close();

    const restarted = await reopen();
    const loaded = await restarted.load();
    expect(Object.fromEntries(loaded.nodeIdentities)).toEqual(Object.fromEntries(state.nodeIdentities));
    expect(Object.fromEntries(loaded.tokens)).toEqual(Object.fromEntries(state.tokens));
    expect(loaded.tokens.get(BOOTSTRAP)).toEqual({ kind: "join", createdAt: T0, expiresAt: T0 + 3_600_000, usesLeft: 2 });
    expect(loaded.tokens.has(READONLY)).toBe(false);
    expect(loaded.nodeIdentities.get("n1")).toEqual({ serial: "0a", pending: "0b", notAfter: T0 + 5, removed: false, approved: false, keyDigest: null });
    // The key a join enrolled is kept: its enrollment, asked again, is recognized after a restart.
    expect(loaded.nodeIdentities.get("n4")).toEqual({ serial: "0d", pending: "0e", notAfter: T0 + 5, removed: false, approved: false, keyDigest: KEY });
    await restarted.close();
  });
}
