/**
 * The control plane's TLS: its CA (in the data dir, or on PostgreSQL the cluster's, from the
 * database) and its own server certificate, renewed while it runs; client certificates are
 * optional at the TLS layer (ctl uses tokens), AgentGateway identifies agents by theirs.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { experimental, ServerCredentials } from "@grpc/grpc-js";
import { hostAddresses } from "../../shell/host-addresses.js";
import type { ControlPlaneOptions } from "../lifecycle/options.js";
import type { Store } from "../store/store.js";
import { serverCertificateNames } from "../lifecycle/advertised.js";
import { databaseCa } from "./ca-source.js";
import { peerCertificate } from "./enrollment.js";
import { Pki, pkiFiles, SERVER_LIFETIME_MS } from "./pki.js";

/** How often the server certificate is checked; a renewal is due with a third of its lifetime left (months ahead by default). */
const CERT_CHECK_MS = 3_600_000;

export interface Tls {
  pki: Pki;
  credentials: ServerCredentials;
  identifyAgent: (stream: { getAuthContext?: () => { sslPeerCertificate?: { raw?: Uint8Array } } }) => Promise<{ node: string; serial: string; notAfter: number } | { refusal: string }>;
  /** Stops the renewal checks. */
  close(): void;
}

/** The names and addresses this control plane serves as: its server certificate's, and the only Host headers its web page answers besides loopback. */
export function servedNames(opts: Pick<ControlPlaneOptions, "listen" | "advertise">): string[] {
  return serverCertificateNames(opts.listen, opts.advertise ?? [], hostAddresses());
}

/** CA and server certificate; TLS with optional client certificates (agents present theirs). */
export async function openTls(opts: ControlPlaneOptions, store: Store): Promise<Tls> {
  const names = servedNames(opts);
  const lifetimeMs = opts.serverCertLifetimeMs ?? SERVER_LIFETIME_MS;
  // On PostgreSQL the CA is the cluster's, in the database; the server certificate stays this control plane's own.
  const source = store.supports.clusterCa && databaseCa(store.supports.clusterCa, opts.caSecret!, opts.dataDir, opts.log);
  const pki = await Pki.open(opts.dataDir, names, lifetimeMs, source);
  const files = pkiFiles(opts.dataDir);
  // The certificates are handed over right after grpc-js subscribes (a microtask: it must
  // finish registering the server first), before any connection can be accepted. With
  // grpc-js's file-watching provider they arrived after asynchronous reads, and a client
  // connecting in between had its TLS handshake dropped.
  const readIdentity = () => ({ certificate: readFileSync(files.serverCert), privateKey: readFileSync(files.serverKey) });
  let identity = readIdentity();
  const identityListeners = new Set<(update: experimental.IdentityCertificateUpdate) => void>();
  const ca = { caCertificate: readFileSync(files.caCert) };
  const provider: experimental.CertificateProvider = {
    addCaCertificateListener: (listener) => queueMicrotask(() => listener(ca)),
    removeCaCertificateListener: () => {},
    addIdentityCertificateListener: (listener) => {
      identityListeners.add(listener);
      queueMicrotask(() => listener(identity));
    },
    removeIdentityCertificateListener: (listener) => identityListeners.delete(listener),
  };
  // A renewed certificate goes to grpc-js's listener, which swaps the server's TLS context:
  // new connections get it, open ones carry on.
  const renewal = setInterval(() => {
    pki.renewServerCertificate(opts.dataDir, names, lifetimeMs).then(
      (renewed) => {
        if (!renewed) return;
        identity = readIdentity();
        for (const listener of identityListeners) listener(identity);
        opts.log.info("server certificate renewed", { validTo: new X509Certificate(identity.certificate).validTo });
      },
      (err: Error) => opts.log.error("server certificate renewal failed; retrying at the next check", { error: err.message }),
    );
  }, opts.certCheckMs ?? CERT_CHECK_MS);
  return {
    close: () => clearInterval(renewal),
    pki,
    // Client certificates are optional at the TLS layer (ctl uses tokens); AgentGateway requires one.
    credentials: experimental.createCertificateProviderServerCredentials(provider, provider, false),
    identifyAgent: async (stream) => {
      const der = peerCertificate(stream);
      if (!der) return { refusal: "agents must present their node certificate (enroll with --join-token)" };
      return pki.verifyClient(der, Date.now());
    },
  };
}
