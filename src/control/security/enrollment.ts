/**
 * The Enrollment service: hands out the CA (no credentials; the caller checks its hash) and
 * certifies a node's public key for a valid join token, or for the node's own current
 * certificate (renewal).
 */
import { type Metadata, type ServerUnaryCall, status } from "@grpc/grpc-js";
import type { Logger } from "../../core/logger.js";
import { validateName } from "../../core/validate.js";
import type { EnrollmentServer, EnrollRequest, EnrollResponse } from "../../gen/tessera/v1/agent_gateway.js";
import { NODE_LIFETIME_MS, type Pki } from "./pki.js";
import { undecodable } from "../undecodable.js";
import type { Tokens } from "./tokens.js";

/** The bearer token of a call, if any. */
export function bearer(metadata: Metadata): string | undefined {
  const value = metadata.get("authorization")[0];
  if (typeof value !== "string" || !value.startsWith("Bearer ")) return undefined;
  return value.slice("Bearer ".length).trim();
}

/** The DER of the client certificate a call presented over TLS, if any. */
export function peerCertificate(call: { getAuthContext?: () => { sslPeerCertificate?: { raw?: Uint8Array } } }): Uint8Array | undefined {
  return call.getAuthContext?.().sslPeerCertificate?.raw;
}

export function createEnrollmentService(pki: Pki, tokens: Tokens, log: Logger): EnrollmentServer {
  return {
    getCa: (_call, callback) => callback(null, { caPem: pki.caPem }),
    enroll: (call: ServerUnaryCall<EnrollRequest, EnrollResponse>, callback) => {
      void (async () => {
        const bad = undecodable(call.request);
        if (bad !== undefined) return callback({ code: status.INVALID_ARGUMENT, details: `request: expected a tessera.v1.EnrollRequest (${bad})` });
        const req = call.request;
        const problem = validateName(req.node, "node");
        if (problem) return callback({ code: status.INVALID_ARGUMENT, details: `node: expected a DNS-1123 label, got "${req.node}"` });
        if (!req.publicKeyPem.includes("PUBLIC KEY")) return callback({ code: status.INVALID_ARGUMENT, details: "public_key_pem: expected a PEM public key (SPKI)" });
        const token = bearer(call.metadata);
        if (token !== undefined) {
          if (tokens.kindOf(token) !== "join") return callback({ code: status.UNAUTHENTICATED, details: "the join token is not valid (rotated or mistyped?)" });
        } else {
          const der = peerCertificate(call as never);
          if (!der) return callback({ code: status.UNAUTHENTICATED, details: "enrolling needs a join token (--join-token) or, to renew, the node's current certificate" });
          const who = await pki.verifyClient(der, Date.now());
          if ("refusal" in who) return callback({ code: status.UNAUTHENTICATED, details: who.refusal });
          if (who.node !== req.node) return callback({ code: status.PERMISSION_DENIED, details: `this certificate is for node ${who.node}, not ${req.node}` });
        }
        try {
          const { certPem } = await pki.issue(`CN=${req.node}`, [req.node], NODE_LIFETIME_MS, "client", req.publicKeyPem);
          log.info("node enrolled", { node: req.node, by: token !== undefined ? "join token" : "renewal" });
          callback(null, { certificatePem: certPem });
        } catch (err) {
          callback({ code: status.INVALID_ARGUMENT, details: `public_key_pem: ${(err as Error).message}` });
        }
      })().catch((err: Error) => callback({ code: status.INTERNAL, details: `enrollment failed: ${err.message}` }));
    },
  };
}
