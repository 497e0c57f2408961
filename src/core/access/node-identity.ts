/**
 * Who may speak for a node, and which tokens still work. PURE.
 *
 * A node name is enrolled once: the join token gets a name nobody holds, and from then on
 * only the node's current certificate (by serial) renews it and connects as it, until an
 * admin approves a new enrollment or removes the node. Tokens carry an expiry and, for join
 * tokens, a number of enrollments. The shell presents what it verified (a signature, a
 * serial, a token's hash); the decisions and the records are here.
 */
import type { ClusterEvent } from "../events/cluster-events.js";
import type { ClusterState, ClusterView, TokenKind, TokenRecord } from "../model/cluster-state.js";
import type { Decision } from "../decide/decide.js";
import type { Rejection } from "../model/rejections.js";
import { validateName } from "../model/validate.js";

/** What a caller proved when asking for a node certificate. */
export type EnrollmentProof =
  /** A join token (by hash): good for a name not enrolled, or one an admin approved. */
  | { via: "join"; token: string }
  /** The certificate the node holds now (by serial): a renewal. */
  | { via: "renewal"; serial: string }
  /** A connection with a certificate signed before identities were recorded: it is adopted. */
  | { via: "connection" };

export type IdentityCommand =
  /** Record `serial` (valid until `notAfter`) as `node`'s one certificate, for `proof`. */
  | { type: "CertifyNode"; node: string; serial: string; notAfter: number; proof: EnrollmentProof }
  /** Let the next join-token enrollment of `node` replace its certificate. */
  | { type: "ApproveNode"; node: string; by: string }
  /** Refuse the node's certificates from now on and close its stream. */
  | { type: "RemoveNode"; node: string; by: string }
  /** Revoke a token by its id (tokenId: the first 12 hex digits of its hash). */
  | { type: "RevokeToken"; id: string; by: string };

export type IdentityEvent =
  /** `token`: the hash of the join token it used (one of its uses is spent). */
  /**
   * `token`: the hash of the join token it used (one of its uses is spent). `renewed`: the
   * serial a renewal presented. Via "connection": the certificate is in use, and is the node's.
   */
  | { type: "NodeCertified"; at: number; node: string; serial: string; notAfter: number; via: EnrollmentProof["via"]; token?: string; renewed?: string }
  | { type: "NodeApproved"; at: number; node: string; by: string }
  | { type: "NodeRemoved"; at: number; node: string; by: string }
  | { type: "TokenRevoked"; at: number; hash: string; kind: TokenKind; by: string };

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

const accept = (events: ClusterEvent[] = [], effects: Decision["effects"] = []): Decision => ({ events, effects });
const refuse = (rejection: Rejection): Decision => ({ events: [], effects: [], rejection });

function certify(state: ClusterState, c: Extract<IdentityCommand, { type: "CertifyNode" }>, now: number): Decision {
  const bad = validateName(c.node, "node");
  if (bad) return refuse(bad);
  if (!/^[0-9a-f]{1,64}$/.test(c.serial)) return refuse({ kind: "InvalidArgument", field: "serial", expected: "a certificate serial number in hex" });
  const identity = state.nodeIdentities.get(c.node);
  const certified: ClusterEvent = { type: "NodeCertified", at: now, node: c.node, serial: c.serial, notAfter: c.notAfter, via: c.proof.via };
  switch (c.proof.via) {
    case "join": {
      const token = workingToken(state, c.proof.token, now);
      if (token?.kind !== "join") return refuse({ kind: "Unauthenticated", reason: "the join token is not valid (expired, used up, revoked, rotated or mistyped?)" });
      // A name in use (or a node known from before identities were recorded) is not the join
      // token's to give: its holder renews with its certificate, or an admin approves.
      const taken = identity ? !identity.approved : state.nodes.has(c.node);
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

function revokeToken(state: ClusterState, c: Extract<IdentityCommand, { type: "RevokeToken" }>, now: number): Decision {
  const id = c.id.startsWith("sha256:") ? c.id.slice("sha256:".length) : c.id;
  if (!/^[0-9a-f]{6,64}$/.test(id)) return refuse({ kind: "InvalidArgument", field: "id", expected: `a token id as tessera ctl token list shows it (sha256: and hex digits), got "${c.id}"` });
  const matches = [...state.tokens].filter(([hash]) => hash.startsWith(id));
  if (matches.length === 0) return refuse({ kind: "UnknownToken", id: c.id });
  if (matches.length > 1) return refuse({ kind: "InvalidArgument", field: "id", expected: `an id naming one token; "${c.id}" names ${matches.length}` });
  const [hash, token] = matches[0]!;
  // The data dir's admin and join tokens (no expiry) are adopted again at every start: they are
  // replaced by rotating, which writes the new one into the data dir.
  if (token.kind === "admin" || (token.kind === "join" && token.expiresAt === null)) {
    return refuse({ kind: "PermissionDenied", reason: `token ${tokenId(hash)} is the ${token.kind} token of the data dir: replace it with tessera ctl token rotate ${token.kind}` });
  }
  return accept([{ type: "TokenRevoked", at: now, hash, kind: token.kind, by: c.by }]);
}

type IdentityDecider<K extends IdentityCommand["type"]> = (state: ClusterState, c: Extract<IdentityCommand, { type: K }>, now: number) => Decision;

export const identityDeciders: { [K in IdentityCommand["type"]]: IdentityDecider<K> } = {
  CertifyNode: certify,
  RevokeToken: revokeToken,
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
};

type IdentityEvolver<K extends IdentityEvent["type"]> = (state: ClusterState, e: Extract<IdentityEvent, { type: K }>) => void;

export const identityEvolvers: { [K in IdentityEvent["type"]]: IdentityEvolver<K> } = {
  NodeCertified(state, e) {
    const prior = state.nodeIdentities.get(e.node);
    // An approval is for the next join-token enrollment: a renewal meanwhile keeps it.
    const approved = e.via !== "join" && (prior?.approved ?? false);
    if (e.via !== "renewal") {
      state.nodeIdentities.set(e.node, { serial: e.serial, pending: null, notAfter: Math.max(e.notAfter, prior?.notAfter ?? 0), removed: false, approved });
    } else {
      // The renewed certificate waits for its first connection; the one presented stays good
      // until then, unless it is the current one's predecessor (a pending one renewing again).
      const keep = prior?.serial == null || e.renewed === prior.pending ? (e.renewed ?? null) : prior.serial;
      state.nodeIdentities.set(e.node, { serial: keep, pending: e.serial, notAfter: e.notAfter, removed: false, approved });
    }
    const token = e.token === undefined ? undefined : state.tokens.get(e.token);
    if (token?.usesLeft != null) token.usesLeft = Math.max(0, token.usesLeft - 1);
  },
  NodeApproved(state, e) {
    const identity = state.nodeIdentities.get(e.node) ?? { serial: null, pending: null, notAfter: 0, removed: false, approved: false };
    state.nodeIdentities.set(e.node, { ...identity, approved: true });
  },
  NodeRemoved(state, e) {
    state.nodeIdentities.set(e.node, { serial: null, pending: null, notAfter: 0, removed: true, approved: false });
  },
  TokenRevoked(state, e) {
    state.tokens.delete(e.hash);
  },
};
