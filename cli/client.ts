/** The ctl side of the ControlPlane API: a grpc-js client with deadlines and clear errors. */
import { type CallOptions, credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { CHANNEL_OPTIONS } from "../src/shell/control-channel.js";
import { MAX_PAGE_SIZE, type PageRequest } from "../src/core/paging.js";
import { ControlPlaneClient } from "../src/gen/tessera/v1/control_plane.js";
import { InputError, RemoteError } from "./errors.js";

const DEADLINE_MS = 10_000;

type Unary<Req, Res> = (req: Req, metadata: Metadata, options: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => unknown;

export interface CtlSecurity {
  /** Plaintext, no credentials (a control plane started with --insecure). */
  insecure: boolean;
  token?: string;
  caPem?: string;
}

export class Ctl {
  private readonly client: ControlPlaneClient;

  constructor(
    readonly address: string,
    security: CtlSecurity,
  ) {
    if (security.insecure) {
      this.client = new ControlPlaneClient(address, credentials.createInsecure());
      return;
    }
    if (!security.caPem) throw new InputError(`no CA certificate to trust ${address}: pass --ca-file, or run where the control plane's data dir is ($TESSERA_DATA_DIR or ~/.tessera)`);
    const token = security.token;
    const perCall = credentials.createFromMetadataGenerator((_params, cb) => {
      const md = new Metadata();
      if (token) md.set("authorization", `Bearer ${token}`);
      cb(null, md);
    });
    this.client = new ControlPlaneClient(address, credentials.combineChannelCredentials(credentials.createSsl(Buffer.from(security.caPem)), perCall), CHANNEL_OPTIONS);
  }

  close(): void {
    this.client.close();
  }

  /** Calls one unary method; server errors become RemoteError with one readable line. */
  call<Req, Res>(method: Unary<Req, Res>, req: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(this.client, req, new Metadata(), { deadline: new Date(Date.now() + DEADLINE_MS) }, (err, res) => {
        if (err) reject(this.toRemoteError(err));
        else resolve(res);
      });
    });
  }

  /**
   * Every item of a paged method (AIP-158): asks for the largest pages and follows
   * next_page_token until it is empty. A page may hold fewer items than asked (the server
   * keeps answers well under the message limit), so only the token says when it is the last.
   */
  async all<Req extends PageRequest, Res extends { nextPageToken: string }, Item>(method: Unary<Req, Res>, req: Omit<Req, keyof PageRequest>, items: (res: Res) => Item[]): Promise<Item[]> {
    const out: Item[] = [];
    let pageToken = "";
    do {
      const res = await this.call(method, { ...req, pageSize: MAX_PAGE_SIZE, pageToken } as Req);
      out.push(...items(res));
      pageToken = res.nextPageToken;
    } while (pageToken !== "");
    return out;
  }

  /** One readable line for a failed call. */
  toRemoteError(err: { code: status; details: string }): RemoteError {
    // grpc-js's own words for a control plane it cannot reach; a server's UNAVAILABLE (such as
    // Logs' "node n1, which is not connected") is shown as it is.
    if (err.code === status.UNAVAILABLE && /No connection established|Connection dropped|Failed to connect|ECONNREFUSED/.test(err.details))
      return new RemoteError(`cannot reach the control plane at ${this.address} — is \`tessera control\` running?`, err.code);
    if (err.code === status.DEADLINE_EXCEEDED) return new RemoteError(`the control plane at ${this.address} did not answer in time`, err.code);
    return new RemoteError(`${status[err.code]}: ${err.details}`, err.code);
  }

  get api(): ControlPlaneClient {
    return this.client;
  }
}
