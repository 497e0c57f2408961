/**
 * The agent's certificate over its life: enrolling at start, waiting out a control plane that
 * is not reachable yet, and renewing after two thirds of the certificate's life (credentials.ts
 * keeps the files). Shell: timers and Enrollment calls.
 */
import { status } from "@grpc/grpc-js";
import type { Logger } from "../shell/logger.js";
import { type Backoff, reconnectDelay } from "./control-stream.js";
import { type Identity, type NodeCredentials, renewAt } from "./credentials.js";

/** Wait before retrying a failed certificate renewal. */
const RENEWAL_RETRY_MS = 60_000;

/** Enrolls, waiting out a control plane that is not reachable or not answering yet; a refusal is final. */
async function enrollWhenReachable(creds: NodeCredentials, log: Logger, backoff: Backoff, closed: () => boolean): Promise<Identity> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await creds.ensure(Date.now());
    } catch (err) {
      const code = (err as { code?: number }).code;
      // Unreachable, or too busy to answer in time (a fleet enrolling at once): try again.
      if ((code !== status.UNAVAILABLE && code !== status.DEADLINE_EXCEEDED) || closed()) throw err;
      const delay = reconnectDelay(attempt, backoff);
      log.warn("control plane unreachable; retrying enrollment", { inMs: Math.round(delay) });
      await Bun.sleep(delay);
    }
  }
}

/** Hands each identity to `use` and renews it when due, again and again. */
export class CertificateRenewal {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly creds: NodeCredentials,
    private readonly log: Logger,
    private readonly use: (id: Identity) => void,
  ) {}

  /** Enrolls (or takes the stored certificate while it is valid), then keeps renewing it. */
  async start(backoff: Backoff, closed: () => boolean): Promise<void> {
    this.useIdentity(await enrollWhenReachable(this.creds, this.log, backoff, closed));
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** Uses an identity and schedules its renewal. */
  private useIdentity(id: Identity): void {
    this.use(id);
    this.schedule(id, renewAt(id.certPem) - Date.now());
  }

  private schedule(id: Identity, inMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => {
        void this.creds.enroll(id).then(
          (renewed) => {
            this.log.info("certificate renewed", { renewAt: new Date(renewAt(renewed.certPem)).toISOString() });
            this.useIdentity(renewed);
          },
          (err: Error) => {
            this.log.warn("certificate renewal failed; retrying in a minute", { error: err.message });
            this.schedule(id, RENEWAL_RETRY_MS);
          },
        );
      },
      Math.max(1_000, Math.min(inMs, 2 ** 31 - 1)),
    );
  }
}
