/** `tessera ctl snapshot save FILE`: the leader's snapshot of the cluster, into a file only its owner reads. */
import { renameSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { type ClientReadableStream, status } from "@grpc/grpc-js";
import { Command, Option } from "clipanion";
import { readSnapshot } from "../../src/control/store/snapshot-file.js";
import type { SaveSnapshotResponse } from "../../src/gen/tessera/v1/control_plane.js";
import type { Ctl } from "../client.js";
import { InputError } from "../errors.js";
import { CtlCommand } from "./ctl-command.js";

/** The header of the file just written, or its problem as one clear line. */
function checked(file: string) {
  try {
    return readSnapshot(file).meta;
  } catch (err) {
    throw new InputError((err as Error).message);
  }
}

export class SnapshotSaveCommand extends CtlCommand {
  static paths = [["ctl", "snapshot", "save"]];
  static usage = Command.Usage({
    category: "Control planes",
    description: "save a consistent snapshot of the cluster to a file (restore it with tessera control --restore)",
    details:
      "The leader's state as of one commit (its SQLite database, copied by VACUUM INTO on a worker thread, so the writer keeps taking turns), the cluster CA and the token files, with a header naming the store, the cluster, the newest event's sequence and the time, and a SHA-256. The file is the owner's only: it holds the CA's key. On PostgreSQL: Tessera's tables read in one REPEATABLE READ transaction, the CA's key sealed with the CA secret and tokens as hashes. Written whole, checked, then renamed into place.",
    examples: [["Save a snapshot", "tessera ctl snapshot save tessera.snap"]],
  });
  file = Option.String({ required: true });

  async runWith(ctl: Ctl) {
    await ctl.findLeader();
    const partial = `${this.file}.partial`;
    const out = await open(partial, "w", 0o600);
    try {
      const call: ClientReadableStream<SaveSnapshotResponse> = ctl.api.saveSnapshot({});
      await new Promise<void>((resolve, reject) => {
        let writing = Promise.resolve();
        call.on("data", ({ chunk }: SaveSnapshotResponse) => {
          call.pause();
          writing = writing.then(async () => {
            await out.write(chunk);
            call.resume();
          });
        });
        call.on("end", () => writing.then(resolve, reject));
        call.on("error", (err: { code: status; details: string }) => reject(ctl.toRemoteError(err)));
      });
      await out.close();
      const meta = checked(partial);
      renameSync(partial, this.file);
      this.out(`snapshot ${this.file}: cluster ${meta.clusterId}, events through ${meta.sequence}, taken ${meta.takenAt}`);
    } catch (err) {
      await out.close().catch(() => {});
      rmSync(partial, { force: true });
      throw err;
    }
  }
}
