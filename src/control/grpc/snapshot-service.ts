/**
 * The ControlPlane's SaveSnapshot handler: takes a snapshot (snapshot-file.ts) and streams the
 * file in chunks, each written once the client has taken the one before, so a slow reader
 * holds at most one chunk in memory besides the snapshot itself.
 */
import { type ServerWritableStream, status } from "@grpc/grpc-js";
import type { SaveSnapshotRequest, SaveSnapshotResponse } from "../../gen/tessera/v1/control_plane.js";
import type { Rpc } from "./rpc.js";

/** Bytes per response message, well under the 4 MiB message limit. */
const CHUNK_BYTES = 1024 * 1024;

/** `take` returns the file's parts in order; undefined: this store takes no snapshots (a store without Store.supports.snapshot). */
export function createSnapshotHandler(rpc: Rpc, take: (() => Promise<{ header: Uint8Array; parts: Uint8Array[] }>) | undefined) {
  const { opened, finish, endWith } = rpc;
  return async (call: ServerWritableStream<SaveSnapshotRequest, SaveSnapshotResponse>): Promise<void> => {
    const started = performance.now();
    if (!opened(call, "SaveSnapshot", started, "tessera.v1.SaveSnapshotRequest")) return;
    if (!take) return endWith(call, "SaveSnapshot", started, { code: status.UNIMPLEMENTED, details: "this control plane's store takes no snapshots" });
    let gone = false;
    call.on("cancelled", () => (gone = true));
    let snapshot: Awaited<ReturnType<typeof take>>;
    try {
      snapshot = await take();
    } catch (err) {
      return endWith(call, "SaveSnapshot", started, { code: status.INTERNAL, details: `cannot take a snapshot: ${(err as Error).message}` });
    }
    for (const part of [snapshot.header, ...snapshot.parts]) {
      for (let at = 0; at < part.length; at += CHUNK_BYTES) {
        if (gone) return finish("SaveSnapshot", started, status.CANCELLED);
        await new Promise<void>((resolve) => call.write({ chunk: Buffer.from(part.subarray(at, at + CHUNK_BYTES)) }, () => resolve()));
      }
    }
    call.end();
    finish("SaveSnapshot", started, status.OK);
  };
}
