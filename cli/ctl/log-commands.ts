/** `tessera ctl` commands that read what happened: a workload's event history and its output. */
import { type ClientReadableStream, status } from "@grpc/grpc-js";
import { Command, Option } from "clipanion";
import { GetHistoryResponse, type LogsResponse } from "../../src/gen/tessera/v1/control_plane.js";
import { UINT32_MAX, wholeNumber } from "../argv.js";
import type { Ctl } from "../client.js";
import { CtlCommand, ShowCommand } from "./ctl-command.js";
import { historyTable, protoJson, renderDocument } from "./render.js";

export class HistoryCommand extends ShowCommand {
  static paths = [["ctl", "history"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "a workload's transitions from the event log",
    details: "One line per event; under each failure, the end of what that copy wrote to stderr. -o json or yaml prints the events as GetHistory's response in proto3 JSON (each with `detail`, its fields as JSON).",
    examples: [
      ["History of web", "tessera ctl history web"],
      ["Its last 50 events as JSON", "tessera ctl history web --limit 50 -o json"],
    ],
  });
  name = Option.String({ required: true });
  limit = Option.String("--limit", "0", { description: "only the last N events (0: all retained)" });

  async runWith(ctl: Ctl) {
    const format = this.format();
    const limit = wholeNumber(this.limit, "--limit", UINT32_MAX);
    const events = await ctl.all(ctl.api.getHistory, { workload: this.name, limit }, (r) => r.events);
    if (format !== "text") return this.out(renderDocument(format, protoJson("tessera.v1.GetHistoryResponse", GetHistoryResponse, { events, nextPageToken: "" })));
    this.out(events.length === 0 ? `No history for ${this.name}.` : historyTable(events));
  }
}

export class LogsCommand extends CtlCommand {
  static paths = [["ctl", "logs"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "print a workload's output, every replica interleaved and prefixed with its instance",
    details: `
      Each replica's current copy, or, when no copy of it has run yet (pending, backing off) or its node has none of the current one's output, its last ended copy: a workload whose copies all crashed prints what they printed.

      \`--previous\` prints each replica's last ended copy instead: the one that ended last (failed, or stopped) of those that ran. Agents keep the output of the last two ended copies of each replica, fifty in all per node, each up to its last 10 MiB.
    `,
    examples: [
      ["Last 20 lines of each replica", "tessera ctl logs web --tail 20"],
      ["Follow one instance", "tessera ctl logs web --instance web-0 -f"],
      ["What web-0's copy printed before it crashed", "tessera ctl logs web --instance web-0 --previous"],
    ],
  });
  workload = Option.String({ required: true });
  instance = Option.String("--instance", { description: "only this replica (web-0), or this one copy (an id like web-0.3)" });
  follow = Option.Boolean("-f,--follow", false, { description: "keep printing new output, and each replica's next copy once the one read ends (a crash, a replacement)" });
  tail = Option.String("--tail", "0", { description: "start with the last N lines of each instance (0: all)" });
  previous = Option.Boolean("-p,--previous", false, { description: "the output of each replica's last ended copy" });

  async runWith(ctl: Ctl) {
    const tail = wholeNumber(this.tail, "--tail", UINT32_MAX);
    await ctl.findLeader();
    const call: ClientReadableStream<LogsResponse> = ctl.api.logs({ workload: this.workload, instance: this.instance ?? "", follow: this.follow, tail, previous: this.previous });
    const prefix = this.instance === undefined;
    process.once("SIGINT", () => call.cancel());
    await new Promise<void>((resolve, reject) => {
      call.on("data", (line: LogsResponse) => this.context.stdout.write(prefix ? `${line.instance} | ${line.text}\n` : `${line.text}\n`));
      call.on("end", resolve);
      call.on("error", (err: { code: status; details: string }) => {
        if (err.code === status.CANCELLED) return resolve();
        reject(ctl.toRemoteError(err));
      });
    });
  }
}
