/**
 * How events change who may speak to the control plane: API tokens issued and revoked, node
 * certificates recorded, approved and removed (the checks are access/node-identity.ts's).
 * PURE, in place (see evolve.ts).
 */
import type { Evolvers } from "./state-edits.js";

export const accessEvolvers = {
  TokenIssued(state, e) {
    if (e.kind !== "readonly" && !e.keepOthers) for (const [hash, t] of state.tokens) if (t.kind === e.kind) state.tokens.delete(hash);
    state.tokens.set(e.hash, { kind: e.kind, createdAt: e.at, expiresAt: e.expiresAt ?? null, usesLeft: e.uses ?? null });
  },
  TokenRevoked(state, e) {
    state.tokens.delete(e.hash);
  },
  NodeCertified(state, e) {
    const prior = state.nodeIdentities.get(e.node);
    // An approval is for the next join-token enrollment: a renewal meanwhile keeps it.
    const approved = e.via !== "join" && (prior?.approved ?? false);
    if (e.via === "join" && prior !== undefined && !prior.approved && !prior.removed && prior.keyDigest !== null && prior.keyDigest === e.keyDigest) {
      // The same enrollment again (access/node-identity.ts, enrollsAgain): the certificate
      // issued waits for its first connection, as a renewed one does, beside the current one,
      // which stays good (its holder may have received it after all).
      state.nodeIdentities.set(e.node, { ...prior, pending: e.serial, notAfter: Math.max(e.notAfter, prior.notAfter) });
    } else if (e.via !== "renewal") {
      // A connection adopting the certificate an enrollment retried issued keeps its key's digest.
      const keyDigest = e.via === "join" ? (e.keyDigest ?? null) : prior?.pending === e.serial ? prior.keyDigest : null;
      state.nodeIdentities.set(e.node, { serial: e.serial, pending: null, notAfter: Math.max(e.notAfter, prior?.notAfter ?? 0), removed: false, approved, keyDigest });
    } else {
      // The renewed certificate waits for its first connection; the one presented stays good
      // until then, unless it is the current one's predecessor (a pending one renewing again).
      const keep = prior?.serial == null || e.renewed === prior.pending ? (e.renewed ?? null) : prior.serial;
      state.nodeIdentities.set(e.node, { serial: keep, pending: e.serial, notAfter: e.notAfter, removed: false, approved, keyDigest: null });
    }
    state.removedNodes.delete(e.node);
    const token = e.token === undefined ? undefined : state.tokens.get(e.token);
    if (token?.usesLeft != null) token.usesLeft = Math.max(0, token.usesLeft - 1);
  },
  NodeApproved(state, e) {
    const identity = state.nodeIdentities.get(e.node) ?? { serial: null, pending: null, notAfter: 0, removed: false, approved: false, keyDigest: null };
    state.nodeIdentities.set(e.node, { ...identity, approved: true });
  },
  NodeRemoved(state, e) {
    state.nodeIdentities.set(e.node, { serial: null, pending: null, notAfter: 0, removed: true, approved: false, keyDigest: null });
    state.removedNodes.add(e.node);
  },
} satisfies Partial<Evolvers>;
