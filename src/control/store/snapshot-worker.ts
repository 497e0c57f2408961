/**
 * The snapshot worker's entry (a Bun Worker; cli/build.ts bundles it as an entrypoint of its
 * own): takes one SQLite snapshot (snapshot-file.ts, copySqliteSnapshot) off the main thread and
 * posts it back, its buffers transferred. The copy, the file reads and the hash are synchronous,
 * and on the main thread they held the writer's turns for their whole length.
 */
import { copySqliteSnapshot, type SnapshotRequest, type SnapshotReply } from "./snapshot-file.js";

declare const self: Worker;

self.onmessage = (event: MessageEvent<SnapshotRequest>) => {
  let reply: SnapshotReply;
  try {
    reply = { ok: copySqliteSnapshot(event.data.dataDir, event.data.now) };
  } catch (err) {
    reply = { error: (err as Error).message };
  }
  // Each buffer once: two views may share one (a transfer list naming it twice is refused).
  const transfer = "ok" in reply ? [...new Set([reply.ok.header, ...reply.ok.parts].map((b) => b.buffer as ArrayBuffer))] : [];
  self.postMessage(reply, transfer);
};
