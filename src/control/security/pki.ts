/**
 * The control plane's small PKI, with @peculiar/x509 over WebCrypto (ECDSA P-256): a CA made
 * on first start, the server certificate it signs, and client certificates for enrolled
 * nodes (subject CN = node name). Files are written with mode 0600.
 *
 * Where the CA comes from is the caller's: the data dir's files (SQLite, the default), or the
 * database shared by several control planes (`--store postgres://…`, its key sealed:
 * ca-source.ts). Either way the server certificate is each control plane's own, in its data
 * dir, naming its own addresses.
 */
import "reflect-metadata";
import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { CONTROL_SERVER_NAME } from "../../shell/control-channel.js";
import { writeSecret } from "../../shell/write-secret.js";

x509.cryptoProvider.set(crypto);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 86_400_000;
export const CA_LIFETIME_MS = 10 * 365 * DAY;
export const SERVER_LIFETIME_MS = 365 * DAY;
export const NODE_LIFETIME_MS = 30 * DAY;

/** The extended key usage a node certificate must carry: TLS client authentication. */
const CLIENT_AUTH_OID = "1.3.6.1.5.5.7.3.2";

/** A certificate's serial as the control plane records it: lower-case hex, no leading zeros. */
export function serialOf(cert: X509Certificate): string {
  return cert.serialNumber.toLowerCase().replace(/^0+(?=.)/, "");
}

/** A node certificate the control plane issued: what it records of it (node-identity.ts). */
export interface IssuedNodeCertificate {
  certPem: string;
  serial: string;
  notAfter: number;
}

export interface PkiFiles {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
}

export function pkiFiles(dataDir: string): PkiFiles {
  const dir = join(dataDir, "pki");
  return { caCert: join(dir, "ca.pem"), caKey: join(dir, "ca.key"), serverCert: join(dir, "server.pem"), serverKey: join(dir, "server.key") };
}

function serial(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex").replace(/^[89a-f]/, "1");
}

async function exportKey(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await crypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

async function importKey(pem: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("pkcs8", x509.PemConverter.decodeFirst(pem), ALG, true, ["sign"]);
}

/** A CA's certificate and private key, PEM. */
export interface CaMaterial {
  certPem: string;
  keyPem: string;
}

/** Where a control plane gets its CA when not from its data dir's files. */
export type CaSource = () => Promise<CaMaterial>;

/** A new self-signed CA. */
export async function createCa(): Promise<CaMaterial> {
  const keys = (await crypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: "CN=Tessera CA",
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + CA_LIFETIME_MS),
    keys,
    signingAlgorithm: ALG,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  return { certPem: cert.toString("pem"), keyPem: await exportKey(keys.privateKey) };
}

/** The data dir's CA, when it holds both files. */
export function readDirCa(dataDir: string): CaMaterial | undefined {
  const files = pkiFiles(dataDir);
  if (!existsSync(files.caCert) || !existsSync(files.caKey)) return undefined;
  return { certPem: readFileSync(files.caCert, "utf8"), keyPem: readFileSync(files.caKey, "utf8") };
}

export class Pki {
  /** The CA's public key for node:crypto, which verifies client certificates. */
  private readonly caPublicKey: KeyObject;

  private constructor(
    readonly caPem: string,
    private readonly ca: x509.X509Certificate,
    private readonly caKey: CryptoKey,
  ) {
    this.caPublicKey = new X509Certificate(caPem).publicKey;
  }

  /**
   * Loads the CA (from `source`, or the data dir's files, made on first start) and makes sure
   * the data dir holds a server certificate it signed. With a `source`, the data dir gets the
   * CA certificate (for ctl and agents on this host) but never its key.
   */
  static async open(dataDir: string, serverNames: string[], serverLifetimeMs = SERVER_LIFETIME_MS, source?: CaSource): Promise<Pki> {
    const files = pkiFiles(dataDir);
    mkdirSync(join(dataDir, "pki"), { recursive: true, mode: 0o700 });
    let ca: CaMaterial;
    if (source) {
      ca = await source();
      if (!existsSync(files.caCert) || readFileSync(files.caCert, "utf8") !== ca.certPem) writeSecret(files.caCert, ca.certPem);
    } else {
      if (!existsSync(files.caCert) || !existsSync(files.caKey)) {
        const made = await createCa();
        writeSecret(files.caKey, made.keyPem);
        writeSecret(files.caCert, made.certPem);
      }
      ca = readDirCa(dataDir)!;
    }
    const pki = new Pki(ca.certPem, new x509.X509Certificate(ca.certPem), await importKey(ca.keyPem));
    await pki.renewServerCertificate(dataDir, serverNames, serverLifetimeMs);
    return pki;
  }

  /**
   * Issues a new server certificate into the data dir unless the one there names every address
   * and is valid for more than a third of `lifetimeMs`; true when it did. Called at start and
   * then periodically, so a control plane that runs for a year renews its own.
   */
  async renewServerCertificate(dataDir: string, names: string[], lifetimeMs = SERVER_LIFETIME_MS): Promise<boolean> {
    const files = pkiFiles(dataDir);
    if (existsSync(files.serverCert) && existsSync(files.serverKey) && this.serverCertUsable(files, names, lifetimeMs)) return false;
    const { certPem, keyPem } = await this.issue(`CN=${CONTROL_SERVER_NAME}`, names, lifetimeMs, "server");
    writeSecret(files.serverKey, keyPem);
    writeSecret(files.serverCert, certPem);
    return true;
  }

  /**
   * Whether the existing server certificate goes with the key beside it (a renewal cut short
   * between the two files leaves a pair that does not), was signed by this CA (a data dir
   * that joined a cluster whose CA is in the database had one of its own), is valid for long
   * enough, and names every address.
   */
  private serverCertUsable(files: PkiFiles, names: string[], lifetimeMs: number): boolean {
    const pem = readFileSync(files.serverCert, "utf8");
    const keyOf = (k: KeyObject) => k.export({ type: "spki", format: "der" });
    if (!new X509Certificate(pem).verify(this.caPublicKey)) return false;
    if (!keyOf(new X509Certificate(pem).publicKey).equals(keyOf(createPublicKey(createPrivateKey(readFileSync(files.serverKey)))))) return false;
    const cert = new x509.X509Certificate(pem);
    if (cert.notAfter.getTime() - Date.now() < lifetimeMs / 3) return false;
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    const have = new Set((san?.names.items ?? []).map((n) => n.value));
    return [CONTROL_SERVER_NAME, ...names].every((n) => have.has(n));
  }

  /** Signs a certificate for a fresh key pair (server) or for a node's public key (client). */
  async issue(subject: string, names: string[], lifetimeMs: number, usage: "server"): Promise<{ certPem: string; keyPem: string }>;
  async issue(subject: string, names: string[], lifetimeMs: number, usage: "client", publicKeyPem: string, notBefore?: number): Promise<{ certPem: string }>;
  async issue(subject: string, names: string[], lifetimeMs: number, usage: "server" | "client", publicKeyPem?: string, notBefore = Date.now() - 60_000) {
    const keys = publicKeyPem === undefined ? ((await crypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair) : undefined;
    const publicKey = keys ? keys.publicKey : await new x509.PublicKey(publicKeyPem!).export(ALG, ["verify"]);
    const sans = [...new Set(usage === "server" ? [CONTROL_SERVER_NAME, ...names] : names)].map((n) => ({ type: isIP(n) ? "ip" : "dns", value: n }) as x509.JsonGeneralName);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject,
      issuer: this.ca.subject,
      notBefore: new Date(notBefore),
      notAfter: new Date(notBefore + lifetimeMs),
      signingKey: this.caKey,
      publicKey,
      signingAlgorithm: ALG,
      extensions: [
        new x509.SubjectAlternativeNameExtension(sans),
        new x509.ExtendedKeyUsageExtension([usage === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      ],
    });
    return keys ? { certPem: cert.toString("pem"), keyPem: await exportKey(keys.privateKey) } : { certPem: cert.toString("pem") };
  }

  /** Signs a node's public key: a client certificate naming the node, with what is recorded of it. */
  async issueNode(node: string, publicKeyPem: string, lifetimeMs: number): Promise<IssuedNodeCertificate> {
    const { certPem } = await this.issue(`CN=${node}`, [node], lifetimeMs, "client", publicKeyPem);
    const cert = new X509Certificate(certPem);
    return { certPem, serial: serialOf(cert), notAfter: Date.parse(cert.validTo) };
  }

  /**
   * The node a client certificate (DER, as TLS presented it) was issued to and its serial, or
   * why it is not acceptable: not signed by this CA, not for client authentication (a server
   * certificate this CA signed), not yet valid, or expired. Whether it is the node's current
   * one is the core's to say (checkNodeCertificate).
   */
  async verifyClient(der: Uint8Array, now: number): Promise<{ node: string; serial: string; notAfter: number } | { refusal: string }> {
    // Every agent stream (and a reconnecting fleet's thousand at once) comes through here:
    // node:crypto checks in ~0.1 ms what the JavaScript ASN.1 parser took ~1 ms for.
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch {
      return { refusal: "the client certificate cannot be parsed" };
    }
    if (!cert.verify(this.caPublicKey)) return { refusal: "the client certificate is not signed by this control plane's CA" };
    if (!(cert.keyUsage ?? []).includes(CLIENT_AUTH_OID)) return { refusal: "the client certificate is not for client authentication (extended key usage clientAuth)" };
    if (now < Date.parse(cert.validFrom)) return { refusal: "the client certificate is not valid yet" };
    const notAfter = Date.parse(cert.validTo);
    if (now > notAfter) return { refusal: `the client certificate expired at ${new Date(notAfter).toISOString()}` };
    const cn = /CN=([^,\n]+)/.exec(cert.subject)?.[1];
    if (!cn) return { refusal: "the client certificate names no node" };
    return { node: cn, serial: serialOf(cert), notAfter };
  }
}
