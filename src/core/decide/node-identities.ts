/**
 * Deciding who may speak for a node: certifying a node's certificate (enrollment with a join
 * token, renewal, adoption on first connection), an admin approving a new enrollment of a
 * name, removing a node. PURE. The rules a certificate or token is checked by are
 * access/node-identity.ts's.
 */
import type { ClusterEvent } from "../events/cluster-events.js";
import type { ClusterState } from "../model/cluster-state.js";
import { validateName } from "../model/validate.js";
import { checkNodeCertificate, enrollsAgain, workingToken } from "../access/node-identity.js";
import type { CommandOf } from "./commands.js";
import { accept, type Decision, type Deciders, refuse } from "./decision.js";

function certify(state: ClusterState, c: CommandOf<"CertifyNode">, now: number): Decision {
  const bad = validateName(c.node, "node");
  if (bad) return refuse(bad);
  if (!/^[0-9a-f]{1,64}$/.test(c.serial)) return refuse({ kind: "InvalidArgument", field: "serial", expected: "a certificate serial number in hex" });
  if (c.keyDigest !== undefined && !/^[0-9a-f]{64}$/.test(c.keyDigest)) return refuse({ kind: "InvalidArgument", field: "keyDigest", expected: "the SHA-256 of a public key, 64 hex digits" });
  const identity = state.nodeIdentities.get(c.node);
  const certified: ClusterEvent = { type: "NodeCertified", at: now, node: c.node, serial: c.serial, notAfter: c.notAfter, via: c.proof.via, ...(c.keyDigest !== undefined && { keyDigest: c.keyDigest }) };
  switch (c.proof.via) {
    case "join": {
      const token = workingToken(state, c.proof.token, now);
      if (token?.kind !== "join") return refuse({ kind: "Unauthenticated", reason: "the join token is not valid (expired, used up, revoked, rotated or mistyped?)" });
      // A name in use (or a node known from before identities were recorded) is not the join
      // token's to give: its holder renews with its certificate, or an admin approves; only
      // its own enrollment, retried with the same key, is given again.
      const taken = identity ? !identity.approved && !enrollsAgain(state, c.node, c.keyDigest) : state.nodes.has(c.node);
      if (taken) return refuse({ kind: "NodeNameTaken", node: c.node });
      return accept([{ ...certified, token: c.proof.token }]);
    }
    case "renewal": {
      // The current certificate or the one a renewal issued (its answer may have been lost);
      // a node without a record holds one from before records: it renews as adopted.
      const current = checkNodeCertificate(state, c.node, c.proof.serial);
      if (current !== undefined && current !== "adopt") return refuse(current);
      return accept([{ ...certified, renewed: c.proof.serial }]);
    }
    case "connection": {
      const verdict = checkNodeCertificate(state, c.node, c.serial);
      if (verdict === "adopt") return accept([certified]);
      return verdict === undefined ? accept() : refuse(verdict);
    }
  }
}

export const nodeIdentityDeciders = {
  CertifyNode: certify,
  ApproveNode(state, c, now) {
    const bad = validateName(c.node, "node");
    if (bad) return refuse(bad);
    if (state.nodeIdentities.get(c.node)?.approved) return accept();
    return accept([{ type: "NodeApproved", at: now, node: c.node, by: c.by }]);
  },
  RemoveNode(state, c, now) {
    const identity = state.nodeIdentities.get(c.node);
    if (identity === undefined && !state.nodes.has(c.node)) return refuse({ kind: "UnknownNode", name: c.node });
    if (identity?.removed && !identity.approved) return accept();
    return accept([{ type: "NodeRemoved", at: now, node: c.node, by: c.by }], [{ type: "DisconnectNode", node: c.node, removed: true }]);
  },
} satisfies Partial<Deciders>;
