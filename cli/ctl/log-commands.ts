/** `tessera ctl` commands that read what happened: a workload's event history, the event stream, and output. */
import { type ClientReadableStream, type Metadata, status } from "@grpc/grpc-js";
import { Command, Option } from "clipanion";
import { matchesEventFilter, NEWEST_SEQUENCE_HEADER, parseEventFilter, TOPICS } from "../../src/core/events/event-stream.js";
import { isRejection } from "../../src/core/views/paging.js";
import { describeRejection } from "../../src/core/model/rejections.js";
import { GetHistoryResponse, type LogsResponse, type WatchResponse } from "../../src/gen/tessera/v1/control_plane.js";
import { Event } from "../../src/gen/tessera/v1/types.js";
import { toProtoJson } from "../../src/shell/proto-json.js";
import { UINT32_MAX, wholeNumber } from "../argv.js";
import type { Ctl } from "../client.js";
import { InputError } from "../errors.js";
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

export class EventsCommand extends CtlCommand {
  static paths = [["ctl", "events"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "print the event log, one proto3 JSON Event per line, as GET /v1/events/stream serves it",
    details: `
      Every retained event from --from on (default: the oldest retained), then, with -f, each new one as it is committed. A --from older than retention is refused naming the oldest retained: read the state again and start there. Filter by --topic (${TOPICS.join(", ")}; repeatable) and --key (a workload, node or instance id).
    `,
    examples: [
      ["Everything retained", "tessera ctl events"],
      ["Follow web's workload events", "tessera ctl events --topic Workload --key web -f"],
      ["Resume after sequence 41", "tessera ctl events --from 42 -f"],
    ],
  });
  from = Option.String("--from", "0", { description: "the first sequence number to print (resume with the last one seen + 1)" });
  topics = Option.Array("--topic", [], { description: `only events of this topic (${TOPICS.join(", ")}); repeatable` });
  key = Option.String("--key", { description: "only events whose workload, node or instance id is this" });
  follow = Option.Boolean("-f,--follow", false, { description: "keep printing events as they are committed" });

  async runWith(ctl: Ctl) {
    const from = wholeNumber(this.from, "--from");
    const filter = parseEventFilter(this.topics, this.key);
    if (isRejection(filter)) throw new InputError(`--${describeRejection(filter)}`);
    await ctl.findLeader();
    const call: ClientReadableStream<WatchResponse> = ctl.api.watch({ afterSequence: Math.max(0, from - 1), workload: "" });
    process.once("SIGINT", () => call.cancel());
    await new Promise<void>((resolve, reject) => {
      /** Without -f: the newest sequence committed when the watch began, where printing stops. */
      let newest = Number.POSITIVE_INFINITY;
      const done = () => {
        call.cancel();
        resolve();
      };
      call.on("metadata", (md: Metadata) => {
        if (this.follow) return;
        newest = Number(md.get(NEWEST_SEQUENCE_HEADER)[0] ?? 0);
        if (newest < from) done();
      });
      call.on("data", ({ event }: WatchResponse) => {
        if (!event) return;
        if (matchesEventFilter(event, filter)) this.context.stdout.write(`${JSON.stringify(toProtoJson("tessera.v1.Event", Event.encode(event).finish()))}\n`);
        if (event.sequence >= newest) done();
      });
      call.on("end", resolve);
      call.on("error", (err: { code: status; details: string }) => {
        if (err.code === status.CANCELLED) return resolve();
        reject(ctl.toRemoteError(err));
      });
    });
  }
}
