/**
 * The ControlPlane handlers for tokens and node identities: rotating, creating, listing and
 * revoking tokens; approving and removing nodes. They validate and submit; the core decides
 * (node-identity.ts). Admin only (authz.ts).
 */
import { status } from "@grpc/grpc-js";
import type { TokenKind as CoreTokenKind } from "../../core/model/cluster-state.js";
import { validateName } from "../../core/model/validate.js";
import { type ControlPlaneServer, TokenKind } from "../../gen/tessera/v1/control_plane.js";
import { caller, invalid, refused, type Rpc } from "./rpc.js";
import { CA_LIFETIME_MS } from "../security/pki.js";
import { fingerprint, type Tokens } from "../security/tokens.js";
import type { CommandPort } from "../writer/writer.js";

/** A bootstrap join token created without a lifetime lasts this long (as kubeadm's do). */
export const JOIN_TOKEN_DEFAULT_TTL_MS = 24 * 3_600_000;
/** The longest lifetime a created token may be given: the CA's. */
const MAX_TTL_MS = CA_LIFETIME_MS;

const WIRE_KINDS: Record<CoreTokenKind, TokenKind> = { admin: TokenKind.TOKEN_KIND_ADMIN, join: TokenKind.TOKEN_KIND_JOIN, readonly: TokenKind.TOKEN_KIND_READONLY };

type IdentityHandlers = Pick<ControlPlaneServer, "rotateToken" | "createToken" | "listTokens" | "revokeToken" | "approveNode" | "removeNode">;

export function createIdentityHandlers(rpc: Rpc, writer: CommandPort, tokens: Tokens | undefined): IdentityHandlers {
  const { unary } = rpc;
  const mustTokens = (): Tokens => {
    if (!tokens) throw { code: status.FAILED_PRECONDITION, details: "this control plane runs with --insecure: it has no tokens and no node identities" };
    return tokens;
  };
  const submitted = async (command: Parameters<CommandPort["submit"]>[0]) => {
    const d = await writer.submit(command);
    if (d.rejection) throw refused(d.rejection);
  };
  const mustName = (name: string) => {
    const problem = validateName(name, "name");
    if (problem) throw refused(problem);
  };
  return {
    rotateToken: unary("RotateToken", async (req, metadata) => {
      const t = mustTokens();
      const kind = req.kind === TokenKind.TOKEN_KIND_ADMIN ? "admin" : req.kind === TokenKind.TOKEN_KIND_JOIN ? "join" : undefined;
      if (!kind) throw invalid("kind", "TOKEN_KIND_ADMIN or TOKEN_KIND_JOIN");
      return { token: await t.rotate(kind, caller(metadata)) };
    }),
    createToken: unary("CreateToken", async (req, metadata) => {
      const t = mustTokens();
      const kind = req.kind === TokenKind.TOKEN_KIND_UNSPECIFIED || req.kind === TokenKind.TOKEN_KIND_READONLY ? "readonly" : req.kind === TokenKind.TOKEN_KIND_JOIN ? "join" : undefined;
      if (!kind) throw invalid("kind", "TOKEN_KIND_READONLY or TOKEN_KIND_JOIN (the admin token is rotated, not created)");
      if (req.uses > 0 && kind !== "join") throw invalid("uses", "0 for a read-only token (uses count enrollments)");
      if (req.ttlMs > MAX_TTL_MS) throw invalid("ttl_ms", `at most ${MAX_TTL_MS} (10 years), got ${req.ttlMs}`);
      const ttlMs = req.ttlMs > 0 ? req.ttlMs : kind === "join" ? JOIN_TOKEN_DEFAULT_TTL_MS : undefined;
      const token = await t.create(kind, caller(metadata), { ttlMs, uses: req.uses > 0 ? req.uses : undefined });
      return { token, id: fingerprint(token) };
    }),
    listTokens: unary("ListTokens", () => ({
      tokens: mustTokens()
        .list()
        .map((t) => ({
          id: t.id,
          kind: WIRE_KINDS[t.kind],
          created: new Date(t.createdAt),
          expires: t.expiresAt === null ? undefined : new Date(t.expiresAt),
          usesLeft: t.usesLeft ?? undefined,
        })),
    })),
    revokeToken: unary("RevokeToken", async (req, metadata) => {
      const rejection = await mustTokens().revoke(req.id, caller(metadata));
      if (rejection) throw refused(rejection);
      return {};
    }),
    approveNode: unary("ApproveNode", async (req, metadata) => {
      mustTokens();
      mustName(req.name);
      await submitted({ type: "ApproveNode", node: req.name, by: caller(metadata) });
      return {};
    }),
    removeNode: unary("RemoveNode", async (req, metadata) => {
      mustTokens();
      mustName(req.name);
      await submitted({ type: "RemoveNode", node: req.name, by: caller(metadata) });
      return {};
    }),
  };
}
