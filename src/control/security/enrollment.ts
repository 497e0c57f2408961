/**
 * The Enrollment service: hands out the CA (no credentials; the caller checks its hash) and
 * certifies a node's public key for a valid join token (a name not enrolled yet, or one an
 * admin approved, or the same key again: an enrollment whose answer was lost is asked again),
 * or for the node's own current certificate (renewal). A certificate is
 * handed out only once the writer recorded it as the node's one (CertifyNode): the core
 * decides, the refused ones are never seen.
 */
import { createHash, createPublicKey } from "node:crypto";
import { type Metadata, type ServerUnaryCall, status } from "@grpc/grpc-js";
import type { Logger } from "../../shell/logger.js";
import { validateName } from "../../core/model/validate.js";
import type { EnrollmentServer, EnrollRequest, EnrollResponse } from "../../gen/tessera/v1/agent_gateway.js";
import type { EnrollmentProof } from "../../core/access/node-identity.js";
import { NODE_LIFETIME_MS, type Pki } from "./pki.js";
import { rejectionError } from "../grpc/rejection-codes.js";
import { undecodable } from "../grpc/undecodable.js";
import { hashToken } from "./tokens.js";
import type { CommandPort } from "../writer/writer.js";

/** The bearer token of a call, if any. */
export function bearer(metadata: Metadata): string | undefined {
  const value = metadata.get("authorization")[0];
  if (typeof value !== "string" || !value.startsWith("Bearer ")) return undefined;
  return value.slice("Bearer ".length).trim();
}

/** SHA-256 (hex) of a PEM public key's SubjectPublicKeyInfo: which key a certificate was issued for. */
function publicKeyDigest(publicKeyPem: string): string {
  return createHash("sha256").update(createPublicKey(publicKeyPem).export({ type: "spki", format: "der" })).digest("hex");
}

/** The DER of the client certificate a call presented over TLS, if any. */
export function peerCertificate(call: { getAuthContext?: () => { sslPeerCertificate?: { raw?: Uint8Array } } }): Uint8Array | undefined {
  return call.getAuthContext?.().sslPeerCertificate?.raw;
}

export function createEnrollmentService(pki: Pki, writer: CommandPort, log: Logger): EnrollmentServer {
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
        let proof: EnrollmentProof;
        if (token !== undefined) {
          proof = { via: "join", token: hashToken(token) };
        } else {
          const der = peerCertificate(call as never);
          if (!der) return callback({ code: status.UNAUTHENTICATED, details: "enrolling needs a join token (--join-token) or, to renew, the node's current certificate" });
          const who = await pki.verifyClient(der, Date.now());
          if ("refusal" in who) return callback({ code: status.UNAUTHENTICATED, details: who.refusal });
          if (who.node !== req.node) return callback({ code: status.PERMISSION_DENIED, details: `this certificate is for node ${who.node}, not ${req.node}` });
          proof = { via: "renewal", serial: who.serial };
        }
        let issued;
        let keyDigest;
        try {
          issued = await pki.issueNode(req.node, req.publicKeyPem, NODE_LIFETIME_MS);
          keyDigest = publicKeyDigest(req.publicKeyPem);
        } catch (err) {
          return callback({ code: status.INVALID_ARGUMENT, details: `public_key_pem: ${(err as Error).message}` });
        }
        const d = await writer.submit({ type: "CertifyNode", node: req.node, serial: issued.serial, notAfter: issued.notAfter, proof, keyDigest });
        if (d.rejection) {
          log.warn("enrollment refused", { node: req.node, via: proof.via, details: rejectionError(d.rejection).details });
          return callback(rejectionError(d.rejection));
        }
        log.info("node enrolled", { node: req.node, by: proof.via === "join" ? "join token" : "renewal", serial: issued.serial });
        callback(null, { certificatePem: issued.certPem });
      })().catch((err: Error) => callback({ code: status.INTERNAL, details: `enrollment failed: ${err.message}` }));
    },
  };
}
