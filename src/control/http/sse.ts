/**
 * A Server-Sent Events response: named events with JSON data, a comment every few seconds so
 * that idle streams are not timed out (Bun's default idle timeout is 10 s), and a bound on what
 * may queue for a client that does not read: past it the stream is closed, and the browser's
 * EventSource reconnects and starts again from a snapshot. The HTTP API's event stream uses
 * the same bounded stream for its newline-delimited JSON.
 */

/** Bytes queued for one client before its stream is closed. */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
const KEEPALIVE_MS = 5_000;
/** How soon an EventSource retries after the stream ends (a control-plane restart). */
const RETRY_MS = 1_000;

export interface SseStream {
  /** Sends one event; false once the stream is closed. */
  send(event: string, data: unknown): boolean;
  /** Sends an event encoded once by sseFrame for many streams; false once the stream is closed. */
  sendFrame(frame: Uint8Array): boolean;
  close(): void;
}

const encoder = new TextEncoder();

/** One named event with JSON data, as the stream carries it; `id` is what EventSource sends back as Last-Event-ID when it reconnects. */
export function sseFrame(event: string, data: unknown, id?: string): Uint8Array {
  return encoder.encode(`${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** A stream of bytes to one client, bounded as above; write answers false once it is closed. */
export interface ByteStream {
  write(bytes: Uint8Array): boolean;
  close(): void;
}

/**
 * A streaming response of `contentType`: `prelude` first, `keepalive` every KEEPALIVE_MS, and
 * closed once more than MAX_QUEUED_BYTES wait for a client that does not read. `open` starts
 * what feeds it and returns what stops it (called once, however the stream ends).
 */
export function boundedStreamResponse(contentType: string, text: { prelude?: string; keepalive: string }, open: (stream: ByteStream) => () => void): Response {
  let end = () => {};
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        let closed = false;
        let stop: (() => void) | undefined;
        end = () => {
          if (closed) return;
          closed = true;
          clearInterval(keepalive);
          stop?.();
          try {
            controller.close();
          } catch {
            // Already cancelled by the client.
          }
        };
        const write = (bytes: Uint8Array) => {
          if (closed) return false;
          if ((controller.desiredSize ?? 0) < -MAX_QUEUED_BYTES) {
            end();
            return false;
          }
          controller.enqueue(bytes);
          return true;
        };
        const keepalive = setInterval(() => write(encoder.encode(text.keepalive)), KEEPALIVE_MS);
        if (text.prelude) write(encoder.encode(text.prelude));
        stop = open({ write, close: () => end() });
        if (closed) stop();
      },
      cancel: () => end(),
    },
    { highWaterMark: 0, size: (chunk) => chunk?.byteLength ?? 0 },
  );
  return new Response(body, { headers: { "content-type": contentType, "cache-control": "no-store" } });
}

/** What an SSE stream starts with (how soon to reconnect) and sends while idle. */
export const SSE_TEXT = { prelude: `retry: ${RETRY_MS}\n\n`, keepalive: ": keep-alive\n\n" };

/** `open` starts what feeds the stream and returns what stops it (called once, however the stream ends). */
export function sseResponse(open: (stream: SseStream) => () => void): Response {
  return boundedStreamResponse("text/event-stream", SSE_TEXT, (bytes) =>
    open({ send: (event, data) => bytes.write(sseFrame(event, data)), sendFrame: bytes.write, close: bytes.close }),
  );
}
