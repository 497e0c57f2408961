/**
 * Open streams (Watch, Logs, WatchEndpoints, Exec) by the token they were opened with: a token
 * checked once at the start would keep a stream flowing after it was revoked, rotated or
 * expired. Each sweep ends those whose token no longer works, UNAUTHENTICATED; the control
 * plane sweeps when a turn changed tokens, and every second for expiries. Shell.
 */
import { type ServerDuplexStream, type ServerWritableStream, status } from "@grpc/grpc-js";
import type { Logger } from "../../shell/logger.js";

type Call = ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>;

/** How often expiries are looked for. */
const SWEEP_MS = 1_000;

export class TokenStreams {
  private readonly open = new Map<Call, { token: string; method: string }>();
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(
    /** Whether a token (the secret a call presented) still works. */
    private readonly works: (token: string) => boolean,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref?.();
  }

  /** Follows a stream opened with `token` until it closes. */
  track(call: Call, method: string, token: string): void {
    this.open.set(call, { token, method });
    const forget = () => this.open.delete(call);
    call.on("close", forget);
    call.on("finish", forget);
    call.on("cancelled", forget);
    call.on("error", forget);
  }

  /** Ends the streams whose token no longer works. */
  sweep(): void {
    for (const [call, { token, method }] of this.open) {
      if (this.works(token)) continue;
      this.open.delete(call);
      this.log.warn("stream ended: its token was revoked, rotated or expired", { method });
      // Its handler lets go of what feeds it (a watch, an agent's output, an exec) as when the
      // client goes away; then the client hears why.
      call.emit("cancelled");
      call.emit("error", { code: status.UNAUTHENTICATED, details: "the token this stream was opened with was revoked, rotated or has expired" });
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}
