/**
 * Who may speak for a node, and which tokens still work. PURE.
 *
 * A node name is enrolled once: the join token gets a name nobody holds (or the same key
 * again, see enrollsAgain), and from then on only the node's current certificate (by serial)
 * renews it and connects as it, until an admin approves a new enrollment or removes the node. Tokens carry an expiry and, for join
 * tokens, a number of enrollments. The shell presents what it verified (a signature, a
 * serial, a token's hash); the checks are here.
 *
 * The commands that change identities and tokens are decided in decide/node-identities.ts and
 * decide/tokens.ts; their events are applied in events/evolve-access.ts.
 */
import type { ClusterView, TokenRecord } from "../model/cluster-state.js";
import type { Rejection } from "../model/rejections.js";

/** What a caller proved when asking for a node certificate. */
export type EnrollmentProof =
  /** A join token (by hash): good for a name not enrolled, or one an admin approved. */
  | { via: "join"; token: string }
  /** The certificate the node holds now (by serial): a renewal. */
  | { via: "renewal"; serial: string }
  /** A connection with a certificate signed before identities were recorded: it is adopted. */
  | { via: "connection" };

/** How a token is named where its secret is not: the first 12 hex digits of its SHA-256. */
export function tokenId(hash: string): string {
  return `sha256:${hash.slice(0, 12)}`;
}

/** The record of a token that works at `now`: active, not expired, not used up. */
export function workingToken(view: ClusterView, hash: string, now: number): Readonly<TokenRecord> | undefined {
  const t = view.tokens.get(hash);
  if (t === undefined || (t.expiresAt !== null && now >= t.expiresAt) || t.usesLeft === 0) return undefined;
  return t;
}

/**
 * Whether a join-token enrollment of a name enrolled already is that enrollment again, and so
 * accepted: the key to certify is the one the name was enrolled with (`keyDigest`, SHA-256 of
 * its SubjectPublicKeyInfo), the node was not removed, has not renewed since (which clears
 * the digest: from then on it proves itself with its certificate) and has no stream open. An
 * agent whose enrollment answer was lost (a deadline, the network) asks again with the same
 * key; a certificate for that key is of use only to whoever holds its private key, the node
 * itself, and the certificate it may hold already stays good (events/evolve-access.ts).
 */
export function enrollsAgain(view: ClusterView, node: string, keyDigest: string | undefined): boolean {
  const identity = view.nodeIdentities.get(node);
  if (identity === undefined || identity.removed || identity.keyDigest === null) return false;
  return identity.keyDigest === keyDigest && view.nodes.get(node)?.connected !== true;
}

/**
 * Whether a verified certificate (`serial`) may connect as `node`: undefined when it is the
 * node's current one; "adopt" when it becomes the current one by connecting (the one a renewal
 * issued, or any when none is recorded: issued before identities were recorded); or the refusal.
 */
export function checkNodeCertificate(view: ClusterView, node: string, serial: string): Rejection | "adopt" | undefined {
  const identity = view.nodeIdentities.get(node);
  if (identity?.removed) return { kind: "Unauthenticated", reason: `node ${node} was removed (tessera ctl node remove): its certificates are refused; to enroll it again, run tessera ctl node approve ${node} and start its agent with the join token` };
  if (identity === undefined || (identity.serial === null && identity.pending === null) || identity.pending === serial) return "adopt";
  if (identity.serial === serial) return undefined;
  return { kind: "Unauthenticated", reason: `this certificate is not node ${node}'s current one (the node renewed it or was enrolled again since); to enroll this agent as ${node}, run tessera ctl node approve ${node} and start it with the join token and an empty data dir` };
}
