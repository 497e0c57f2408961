/** The ctl side of the ControlPlane API: a grpc-js client with deadlines and clear errors. */
import { type CallOptions, credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { CHANNEL_OPTIONS } from "../src/shell/control-channel.js";
import { isNotLeader, leaderNamedIn, nextUntried, parseAddressList } from "../src/core/ha/control-addresses.js";
import { MAX_PAGE_SIZE, type PageRequest } from "../src/core/views/paging.js";
import { ControlPlaneClient, ControlPlaneRole } from "../src/gen/tessera/v1/control_plane.js";
import { InputError, RemoteError } from "./errors.js";

const DEADLINE_MS = 10_000;

type Unary<Req, Res> = (req: Req, metadata: Metadata, options: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => unknown;

export interface CtlSecurity {
  /** Plaintext, no credentials (a control plane started with --insecure). */
  insecure: boolean;
  token?: string;
  caPem?: string;
}

/** grpc-js's own words for a control plane it cannot reach (nothing was sent). */
const UNREACHABLE = /No connection established|Failed to connect|ECONNREFUSED|ENOTFOUND|EAI_AGAIN/;

/**
 * A client of one control plane among a list (`--control a:7700,b:7700`): calls go to the
 * current one; when it cannot be reached or answers that it is not the leader, the call is
 * made again on the leader it named or the next address (each at most once per call), and
 * the client stays there for the calls after.
 */
export class Ctl {
  private client: ControlPlaneClient;
  private current: string;
  readonly addresses: string[];
  private readonly dial: (address: string) => ControlPlaneClient;

  constructor(control: string, security: CtlSecurity) {
    const parsed = parseAddressList(control, "--control");
    if (!parsed.ok) throw new InputError(parsed.error);
    this.addresses = parsed.addresses;
    this.current = parsed.addresses[0]!;
    if (security.insecure) {
      this.dial = (address) => new ControlPlaneClient(address, credentials.createInsecure());
    } else {
      const caPem = security.caPem;
      if (!caPem) throw new InputError(`no CA certificate to trust ${control}: pass --ca-file, or run where the control plane's data dir is ($TESSERA_DATA_DIR or ~/.tessera)`);
      const token = security.token;
      const perCall = credentials.createFromMetadataGenerator((_params, cb) => {
        const md = new Metadata();
        if (token) md.set("authorization", `Bearer ${token}`);
        cb(null, md);
      });
      const creds = credentials.combineChannelCredentials(credentials.createSsl(Buffer.from(caPem)), perCall);
      this.dial = (address) => new ControlPlaneClient(address, creds, CHANNEL_OPTIONS);
    }
    this.client = this.dial(this.current);
  }

  /** The control plane calls go to now. */
  get address(): string {
    return this.current;
  }

  /**
   * With several addresses, makes the client's control plane the leader (one small read),
   * for streams, which are not made again on another control plane once opened: a standby
   * answers reads itself, so the leader is the one its roll names.
   */
  async findLeader(): Promise<void> {
    if (this.addresses.length <= 1) return;
    const { controlPlanes } = await this.call(this.client.listControlPlanes, {});
    const leader = controlPlanes.find((p) => p.role === ControlPlaneRole.CONTROL_PLANE_ROLE_LEADER)?.address;
    if (leader !== undefined && leader !== this.current) this.moveTo(leader);
  }

  private moveTo(address: string): void {
    this.client.close();
    this.current = address;
    this.client = this.dial(address);
  }

  close(): void {
    this.client.close();
  }

  /** Calls one unary method on the leader; server errors become RemoteError with one readable line. */
  async call<Req, Res>(method: Unary<Req, Res>, req: Req): Promise<Res> {
    const tried: string[] = [];
    const why: string[] = [];
    for (;;) {
      try {
        return await this.callOnce(method, req);
      } catch (e) {
        const err = e as ServiceError;
        const refused = err.code === status.UNAVAILABLE && isNotLeader(err.details);
        // Only when nothing was done: the control plane was not reached, or refused as a standby.
        if (!refused && !(err.code === status.UNAVAILABLE && UNREACHABLE.test(err.details))) throw this.toRemoteError(err);
        tried.push(this.current);
        why.push(`${this.current} (${refused ? err.details : "unreachable"})`);
        const next = nextUntried(this.addresses, tried, leaderNamedIn(err.details));
        if (next === undefined) {
          if (tried.length === 1) throw this.toRemoteError(err);
          throw new RemoteError(`no control plane answered as the leader; tried ${why.join(", ")}`, err.code);
        }
        this.moveTo(next);
      }
    }
  }

  private callOnce<Req, Res>(method: Unary<Req, Res>, req: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(this.client, req, new Metadata(), { deadline: new Date(Date.now() + DEADLINE_MS) }, (err, res) => {
        if (err) reject(err);
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
    if (err.code === status.UNAVAILABLE && (UNREACHABLE.test(err.details) || /Connection dropped/.test(err.details)))
      return new RemoteError(`cannot reach the control plane at ${this.address} — is \`tessera control\` running?`, err.code);
    if (err.code === status.DEADLINE_EXCEEDED) return new RemoteError(`the control plane at ${this.address} did not answer in time`, err.code);
    return new RemoteError(`${status[err.code]}: ${err.details}`, err.code);
  }

  get api(): ControlPlaneClient {
    return this.client;
  }
}
