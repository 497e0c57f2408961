/**
 * The agent's identity: a key pair made on the node and a client certificate the control
 * plane issued for it (Enrollment), kept in the agent's data dir with mode 0600 and renewed
 * after two thirds of its life.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type ChannelCredentials, credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { isNotLeader, leaderNamedIn, nextUntried, parseAddressList } from "../core/ha/control-addresses.js";
import { EnrollmentClient } from "../gen/tessera/v1/agent_gateway.js";
import { caHashOf } from "../shell/ca-hash.js";
import { CHANNEL_OPTIONS } from "../shell/control-channel.js";
import { writeSecret } from "../shell/write-secret.js";

export interface TlsSettings {
  /** The CA certificate, when known locally (--ca-file, or the data dir on the control plane's host). */
  caPem?: string;
  /** `sha256:<hex>` the CA fetched from the control plane must match (--ca-hash). */
  caHash?: string;
  /** Join token, to enroll when the node has no valid certificate yet. */
  joinToken?: string;
}

export interface Identity {
  caPem: string;
  keyPem: string;
  certPem: string;
}

/** When to renew: after two thirds of the certificate's life. */
export function renewAt(certPem: string): number {
  const cert = new X509Certificate(certPem);
  const from = Date.parse(cert.validFrom);
  return from + ((Date.parse(cert.validTo) - from) * 2) / 3;
}

function call<Req, Res>(fn: (req: Req, md: Metadata, opts: { deadline: Date }, cb: (err: Error | null, res: Res) => void) => unknown, client: unknown, req: Req, md = new Metadata()): Promise<Res> {
  return new Promise((resolve, reject) => fn.call(client, req, md, { deadline: new Date(Date.now() + 10_000) }, (err, res) => (err ? reject(err) : resolve(res))));
}

export class NodeCredentials {
  private readonly dir: string;
  private readonly addresses: string[];

  constructor(
    dataDir: string,
    private readonly node: string,
    control: string,
    private readonly settings: TlsSettings,
  ) {
    this.dir = join(dataDir, "agent", "pki");
    const parsed = parseAddressList(control, "--control");
    if (!parsed.ok) throw new Error(parsed.error);
    this.addresses = parsed.addresses;
  }

  /**
   * Calls the leader among the addresses: tries them in order, following a standby's hint,
   * each at most once; when none answers as the leader, the last error (UNAVAILABLE: the
   * caller waits and tries again).
   */
  private async onLeader<T>(call: (address: string) => Promise<T>): Promise<T> {
    const tried: string[] = [];
    let named: string | undefined;
    for (let address = this.addresses[0]!; ; ) {
      tried.push(address);
      try {
        return await call(address);
      } catch (e) {
        const err = e as ServiceError;
        if (err.code !== status.UNAVAILABLE) throw err;
        named = isNotLeader(err.details ?? "") ? leaderNamedIn(err.details) : undefined;
        const next = nextUntried(this.addresses, tried, named);
        if (next === undefined) throw err;
        address = next;
      }
    }
  }

  private paths() {
    return { ca: join(this.dir, "ca.pem"), key: join(this.dir, `${this.node}.key`), cert: join(this.dir, `${this.node}.pem`) };
  }

  /** The stored identity, if it exists and has not expired. */
  stored(now: number): Identity | undefined {
    const p = this.paths();
    if (!existsSync(p.ca) || !existsSync(p.key) || !existsSync(p.cert)) return undefined;
    const certPem = readFileSync(p.cert, "utf8");
    if (Date.parse(new X509Certificate(certPem).validTo) <= now) return undefined;
    return { caPem: readFileSync(p.ca, "utf8"), keyPem: readFileSync(p.key, "utf8"), certPem };
  }

  /** A valid identity: the stored one, or a new one from enrolling with the join token. */
  async ensure(now: number): Promise<Identity> {
    return this.stored(now) ?? this.enroll(undefined);
  }

  /** Trades the join token (or, to renew, the current certificate) for a new certificate. */
  async enroll(current: Identity | undefined): Promise<Identity> {
    const caPem = current?.caPem ?? (await this.trustedCa());
    if (!current && !this.settings.joinToken) throw new Error(`node ${this.node} has no certificate yet: give --join-token (from the control plane's data dir, join-token)`);
    // A renewal brings a new key; an enrollment keeps its key until it is certified.
    const { keyPem, publicKeyPem } = current ? await generateNodeKey() : await this.enrollmentKey();
    const creds = current ? credentials.createSsl(Buffer.from(caPem), Buffer.from(current.keyPem), Buffer.from(current.certPem)) : credentials.createSsl(Buffer.from(caPem));
    const md = new Metadata();
    if (!current) md.set("authorization", `Bearer ${this.settings.joinToken}`);
    const res = await this.onLeader(async (address) => {
      const client = new EnrollmentClient(address, creds, CHANNEL_OPTIONS);
      try {
        return await call(client.enroll, client, { node: this.node, publicKeyPem }, md);
      } finally {
        client.close();
      }
    });
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const p = this.paths();
    writeSecret(p.ca, caPem);
    writeSecret(p.key, keyPem);
    writeSecret(p.cert, res.certificatePem);
    return { caPem, keyPem, certPem: res.certificatePem };
  }

  /**
   * The key a join-token enrollment asks to certify, kept in the data dir before it is asked:
   * when the answer is lost (a deadline under load, the network, a restart of the agent), the
   * retry asks for the same key, which the control plane certifies again; another key would be
   * refused, the name being enrolled already.
   */
  private async enrollmentKey(): Promise<{ keyPem: string; publicKeyPem: string }> {
    const path = this.paths().key;
    if (existsSync(path)) {
      const keyPem = readFileSync(path, "utf8");
      return { keyPem, publicKeyPem: createPublicKey(createPrivateKey(keyPem)).export({ type: "spki", format: "pem" }).toString() };
    }
    const key = await generateNodeKey();
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeSecret(path, key.keyPem);
    return key;
  }

  /** The CA to trust: given locally, or fetched and checked against --ca-hash. */
  private async trustedCa(): Promise<string> {
    if (this.settings.caPem) return this.settings.caPem;
    if (!this.settings.caHash) throw new Error("cannot trust the control plane: give --ca-hash sha256:... (printed by `tessera control`) or --ca-file");
    // Nothing secret is sent on this connection: it only fetches the CA, which is then checked.
    const { caPem } = await this.onLeader(async (address) => {
      const client = new EnrollmentClient(address, credentials.createSsl(null, null, null, { rejectUnauthorized: false }), CHANNEL_OPTIONS);
      try {
        return await call(client.getCa, client, {});
      } finally {
        client.close();
      }
    });
    const got = caHashOf(caPem);
    if (got !== this.settings.caHash) throw new Error(`the control plane's CA is ${got}, not the expected ${this.settings.caHash}`);
    return caPem;
  }
}

/** A fresh key pair for a node: the private key stays on the node, the public key is sent to be certified. */
export async function generateNodeKey(): Promise<{ keyPem: string; publicKeyPem: string }> {
  // node:crypto, not the X.509 library the control plane signs with: the agent only needs a
  // key and two dates of a certificate, and leaving that library out keeps its memory small.
  const { privateKey, publicKey } = await new Promise<{ privateKey: string; publicKey: string }>((resolve, reject) =>
    generateKeyPair("ec", { namedCurve: "P-256", publicKeyEncoding: { type: "spki", format: "pem" }, privateKeyEncoding: { type: "pkcs8", format: "pem" } }, (err, publicKey, privateKey) =>
      err ? reject(err) : resolve({ privateKey, publicKey }),
    ),
  );
  return { keyPem: privateKey, publicKeyPem: publicKey };
}

/** Channel credentials for an identity: mTLS against the control plane's CA. */
export function channelCredentials(id: Identity): ChannelCredentials {
  return credentials.createSsl(Buffer.from(id.caPem), Buffer.from(id.keyPem), Buffer.from(id.certPem));
}
