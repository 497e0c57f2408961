/**
 * Deciding API tokens: issuing one (the shell made the secret; the log keeps its hash) and
 * revoking one by its id. PURE.
 */
import type { ClusterState } from "../model/cluster-state.js";
import { tokenId } from "../access/node-identity.js";
import type { CommandOf } from "./commands.js";
import { accept, type Decision, type Deciders, refuse } from "./decision.js";

function revokeToken(state: ClusterState, c: CommandOf<"RevokeToken">, now: number): Decision {
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

export const tokenDeciders = {
  IssueToken(state, c, now) {
    if (!/^[0-9a-f]{64}$/.test(c.hash)) return refuse({ kind: "InvalidArgument", field: "token.hash", expected: "a SHA-256 in hex" });
    // Issuing a token that is active already (a restart adopting the token file again) changes nothing.
    if (state.tokens.get(c.hash)?.kind === c.kind) return accept();
    if (c.expiresAt !== undefined && !(c.expiresAt > now)) return refuse({ kind: "InvalidArgument", field: "ttl", expected: "a lifetime above zero" });
    if (c.uses !== undefined && (c.kind !== "join" || !(Number.isInteger(c.uses) && c.uses > 0))) return refuse({ kind: "InvalidArgument", field: "uses", expected: "a whole number above zero, for a join token" });
    const limits = { ...(c.expiresAt !== undefined && { expiresAt: c.expiresAt }), ...(c.uses !== undefined && { uses: c.uses }), ...(c.keepOthers && { keepOthers: true }) };
    return accept([{ type: "TokenIssued", at: now, kind: c.kind, hash: c.hash, by: c.by, ...limits }]);
  },
  RevokeToken: revokeToken,
} satisfies Partial<Deciders>;
