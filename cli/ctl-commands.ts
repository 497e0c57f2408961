/** `tessera ctl`: the CLI over the ControlPlane API. Parses, calls, renders; decides nothing. */
import { status } from "@grpc/grpc-js";
import { Command, Option, UsageError } from "clipanion";
import type { ClientReadableStream } from "@grpc/grpc-js";
import type { JsonValue } from "@bufbuild/protobuf";
import { ListInstancesResponse, ListNodesResponse, ListWorkloadsResponse, type LogsResponse, TokenKind } from "../src/gen/tessera/v1/control_plane.js";
import { DesiredState, type Instance, InstanceState, instanceStateToJSON, type Node, nodeHealthToJSON, WorkloadSpec } from "../src/gen/tessera/v1/types.js";
import { UINT32_MAX, wholeNumber } from "./argv.js";
import { Ctl } from "./client.js";
import { RemoteError } from "./errors.js";
import { defaultControl, localFile, readTrimmed } from "./defaults.js";
import { readManifests, toProtoJson } from "./manifest.js";
import { TesseraCommand } from "./base.js";
import { age, renderTable } from "./table.js";

/** Shared by every ctl command: where the control plane is. */
abstract class CtlCommand extends TesseraCommand {
  control = Option.String("--control", { description: "control plane host:port (default $TESSERA_CONTROL or 127.0.0.1:7700)" });
  token = Option.String("--token", { description: "API token (default $TESSERA_TOKEN, else the local data dir's admin-token)" });
  caFile = Option.String("--ca-file", { description: "CA certificate to trust (default: the local data dir's pki/ca.pem)" });
  insecure = Option.Boolean("--insecure", false, { description: "plaintext, for a control plane started with --insecure" });

  abstract runWith(ctl: Ctl): Promise<number | void>;

  async run(): Promise<number | void> {
    const ctl = new Ctl(this.control ?? defaultControl(), {
      insecure: this.insecure,
      token: this.token ?? (process.env.TESSERA_TOKEN || readTrimmed(localFile("admin-token"))),
      caPem: readTrimmed(this.caFile ?? localFile("pki", "ca.pem")),
    });
    try {
      return await this.runWith(ctl);
    } finally {
      ctl.close();
    }
  }
}

function word(json: string, prefix: string): string {
  const w = json.replace(prefix, "").toLowerCase();
  return w.charAt(0).toUpperCase() + w.slice(1);
}
const stateWord = (s: number) => word(instanceStateToJSON(s), "INSTANCE_STATE_");
const healthWord = (n: Node) => word(nodeHealthToJSON(n.health), "NODE_HEALTH_") + (n.draining ? ",Draining" : n.schedulable ? "" : ",SchedulingDisabled");

const instanceRow =
  (now: number) =>
  (i: Instance): string[] => [i.name, i.id, i.desiredState === DesiredState.DESIRED_STATE_RUN ? "Run" : "Stop", stateWord(i.observedState), i.node || "<none>", String(i.attempt), age(i.updatedAt, now), i.reason];

function instanceTable(instances: Instance[], now: number): string {
  if (instances.length === 0) return "<none>";
  return renderTable(["NAME", "ID", "DESIRED", "STATE", "NODE", "ATTEMPT", "AGE", "REASON"], instances.map(instanceRow(now)));
}

function labelList(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",") || "<none>";
}

const indent = (text: string) =>
  text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");

export class ApplyCommand extends CtlCommand {
  static paths = [["ctl", "apply"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "create or update workloads from manifests",
    details:
      "A manifest is the proto3 JSON (or YAML) form of tessera.v1.Workload; a file may hold several (a JSON array, YAML documents separated by ---, or a YAML list), and a directory applies every .json/.yaml/.yml file in it. All of them go in one ApplyWorkloads call, committed together or not at all: a bad file applies nothing. Applying an unchanged manifest changes nothing.",
    examples: [
      ["Apply web.json", "tessera ctl apply -f web.json"],
      ["Apply a directory and wait until every replica runs", "tessera ctl apply -f ./manifests --wait"],
      ["From stdin", "cat web.yaml | tessera ctl apply -f -"],
    ],
  });
  file = Option.String("-f,--file", { required: true, description: "manifest file, directory, or - for stdin" });
  wait = Option.Boolean("--wait", false, { description: "follow the rollout until every replica is Running" });
  timeout = Option.String("--timeout", "300", { description: "seconds --wait waits before failing" });

  async runWith(ctl: Ctl) {
    const seconds = wholeNumber(this.timeout, "--timeout");
    const manifests = await readManifests(this.file);
    const workloads = manifests.map((m) => m.workload);
    // One call, all or nothing: nothing is applied unless every workload is accepted.
    const { applied } = await ctl.call(ctl.api.applyWorkloads, { workloads }).catch((err: unknown) => {
      // The server locates a refusal as workloads[i]: say which file that is.
      const at = err instanceof RemoteError ? /workloads\[(\d+)\]/.exec(err.message) : null;
      if (!at) throw err;
      const { message, code } = err as RemoteError;
      throw new RemoteError(`${message.replace(at[0], "workload")} (${manifests[Number(at[1])]?.source})`, code);
    });
    for (const w of applied) this.out(`workload/${w.name} ${w.changed ? (w.generation === 1 ? "created" : "configured") : "unchanged"} (generation ${w.generation})`);
    if (this.wait) await this.waitForRollout(ctl, workloads.map((w) => w.name), seconds);
  }

  /** Polls until every named workload has all replicas Running at its generation. */
  private async waitForRollout(ctl: Ctl, names: string[], seconds: number): Promise<void> {
    const deadline = Date.now() + seconds * 1000;
    const live = Boolean((this.context.stdout as NodeJS.WriteStream).isTTY);
    let last = "";
    for (;;) {
      const states = await Promise.all(names.map((name) => ctl.call(ctl.api.getWorkload, { name })));
      const progress = states.map((r) => `${r.workload!.name} ${r.workload!.status?.ready}/${r.workload!.status?.desired}`).join(", ");
      if (progress !== last) {
        if (live) this.context.stdout.write(`\r\x1b[2K${progress}`);
        else this.out(progress);
        last = progress;
      }
      if (states.every((r) => r.workload!.status!.ready >= r.workload!.status!.desired)) {
        if (live) this.context.stdout.write("\n");
        this.out("rollout complete");
        return;
      }
      // A replica that cannot be placed, keeps failing, or never passes its checks is reported.
      const stuck = states.flatMap((r) => r.instances.filter((i) => i.desiredState === DesiredState.DESIRED_STATE_RUN && !i.ready));
      if (Date.now() > deadline) {
        if (live) this.context.stdout.write("\n");
        const why = stuck.length > 0 ? `: ${stuck.map((i) => `${i.name} ${stateWord(i.observedState)}${i.reason ? ` (${i.reason})` : i.observedState === InstanceState.INSTANCE_STATE_RUNNING ? " (readiness checks not passing)" : ""}`).join("; ")}` : "";
        throw new RemoteError(`rollout not complete after ${seconds}s (${progress})${why}`);
      }
      await Bun.sleep(250);
    }
  }
}

export class PlanCommand extends CtlCommand {
  static paths = [["ctl", "plan"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "show what applying manifests would do, without doing it",
    details: "Exit code 0 when nothing would change, 1 when something would, 255 on error (like `nomad job plan`).",
    examples: [
      ["Preview a change", "tessera ctl plan -f web.json"],
      ["As JSON Lines", "tessera ctl plan -f web.json -o json"],
    ],
  });
  file = Option.String("-f,--file", { required: true, description: "manifest file, directory, or - for stdin" });
  output = Option.String("-o,--output", "text", { description: "text or json (JSON Lines)" });

  async runWith(ctl: Ctl) {
    if (this.output !== "text" && this.output !== "json") throw new UsageError(`-o: expected text or json, got "${this.output}"`);
    let changes = false;
    for (const { workload } of await readManifests(this.file)) {
      const res = await ctl.call(ctl.api.plan, { workload });
      changes ||= res.changed || res.actions.length > 0;
      if (this.output === "json") {
        for (const line of res.actions) this.out(line);
        continue;
      }
      this.out(`workload/${workload.name}: ${res.changed ? `would change (generation ${res.generation})` : "unchanged"}; ${res.summary}`);
      for (const line of res.actions.slice(1)) {
        const { action, skip, ...rest } = JSON.parse(line) as Record<string, unknown>;
        this.out(`  ${String(action ?? `hold (${skip})`).padEnd(16)} ${Object.entries(rest).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ")}`);
      }
    }
    return changes ? 1 : 0;
  }

  override async execute(): Promise<number> {
    const code = await super.execute();
    return code === 0 || code === 1 ? code : 255;
  }
}

/** What a `get` shows: the response as proto3 JSON, and its table (wide adds columns). */
interface Listing {
  json: JsonValue;
  header: string[];
  rows: string[][];
  /** Columns added by -o wide, one list per row. */
  wideHeader: string[];
  wideRows: string[][];
  empty: string;
}

const OUTPUTS = ["table", "wide", "json", "yaml"] as const;

/** `get`: one listing, in a chosen format, once or --watch. */
abstract class GetCommand extends CtlCommand {
  output = Option.String("-o,--output", "table", { description: "table, wide, json (proto3 JSON of the response) or yaml" });
  watch = Option.Boolean("-w,--watch", false, { description: "keep printing changes until interrupted" });

  abstract list(ctl: Ctl): Promise<Listing>;

  async runWith(ctl: Ctl) {
    const format = OUTPUTS.find((o) => o === this.output);
    if (!format) throw new UsageError(`-o: expected ${OUTPUTS.join(", ")}, got "${this.output}"`);
    let stop = false;
    if (this.watch) process.once("SIGINT", () => (stop = true));
    const printed = new Map<string, string>();
    let lastDoc = "";
    for (let first = true; first || !stop; first = false) {
      const l = await this.list(ctl);
      if (format === "json" || format === "yaml") {
        const doc = format === "json" ? JSON.stringify(l.json, null, 2) : Bun.YAML.stringify(l.json, null, 2);
        if (doc !== lastDoc) this.out(format === "yaml" && !first ? `---\n${doc}` : doc);
        lastDoc = doc;
      } else {
        const header = format === "wide" ? [...l.header, ...l.wideHeader] : l.header;
        const rows = format === "wide" ? l.rows.map((r, n) => [...r, ...l.wideRows[n]!]) : l.rows;
        if (first && rows.length === 0) this.out(l.empty);
        // Rows are keyed by name; while watching only rows that changed are printed again.
        const lines = rows.length > 0 ? renderTable(header, rows).split("\n") : [];
        lines.forEach((line, n) => {
          if (n === 0) {
            if (first) this.out(line);
            return;
          }
          const key = rows[n - 1]![0]! + (rows[n - 1]![1] ?? "");
          if (printed.get(key) !== line) this.out(line);
          printed.set(key, line);
        });
      }
      if (!this.watch) return;
      await Bun.sleep(1_000);
    }
  }
}

function protoJson<T>(typeName: string, codec: { encode(m: T): { finish(): Uint8Array } }, message: T): JsonValue {
  return toProtoJson(typeName, codec.encode(message).finish());
}

export class GetWorkloadsCommand extends GetCommand {
  static paths = [["ctl", "get", "workloads"], ["ctl", "get", "workload"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "list workloads",
    examples: [
      ["List", "tessera ctl get workloads"],
      ["As proto3 JSON", "tessera ctl get workloads -o json"],
      ["Follow changes", "tessera ctl get workloads --watch"],
    ],
  });

  async list(ctl: Ctl): Promise<Listing> {
    const res = { workloads: await ctl.all(ctl.api.listWorkloads, {}, (r) => r.workloads), nextPageToken: "" };
    const now = Date.now();
    return {
      json: protoJson("tessera.v1.ListWorkloadsResponse", ListWorkloadsResponse, res),
      header: ["NAME", "READY", "STATUS", "GEN", "NODES", "AGE"],
      rows: res.workloads.map((w) => {
        const s = w.status;
        return [w.name, `${s?.ready ?? 0}/${s?.desired ?? 0}`, s?.phase ?? "", String(w.generation), s?.nodes.join(",") || "<none>", age(w.createdAt, now)];
      }),
      wideHeader: ["IMAGE", "COMMAND", "LABELS"],
      wideRows: res.workloads.map((w) => [w.spec?.image || "<none>", [w.spec?.command, ...(w.spec?.args ?? [])].join(" "), labelList(w.labels)]),
      empty: "No workloads.",
    };
  }
}

export class GetInstancesCommand extends GetCommand {
  static paths = [["ctl", "get", "instances"], ["ctl", "get", "instance"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "list instances, of every workload or of one",
    examples: [
      ["All", "tessera ctl get instances"],
      ["Of web, as YAML", "tessera ctl get instances web -o yaml"],
    ],
  });
  workload = Option.String({ required: false });

  async list(ctl: Ctl): Promise<Listing> {
    const res = { instances: await ctl.all(ctl.api.listInstances, { workload: this.workload ?? "" }, (r) => r.instances), nextPageToken: "" };
    const now = Date.now();
    return {
      json: protoJson("tessera.v1.ListInstancesResponse", ListInstancesResponse, res),
      header: ["NAME", "ID", "DESIRED", "STATE", "NODE", "ATTEMPT", "AGE", "REASON"],
      rows: res.instances.map(instanceRow(now)),
      wideHeader: ["WORKLOAD", "GENERATION", "READY", "CHECKS-PASSING"],
      wideRows: res.instances.map((i) => [i.workload, String(i.generation), i.ready ? "yes" : "no", i.passingChecks.join(",") || "<none>"]),
      empty: "No instances.",
    };
  }
}

export class GetNodesCommand extends GetCommand {
  static paths = [["ctl", "get", "nodes"], ["ctl", "get", "node"]];
  static usage = Command.Usage({
    category: "Nodes",
    description: "list nodes",
    examples: [
      ["List", "tessera ctl get nodes"],
      ["With labels", "tessera ctl get nodes -o wide"],
    ],
  });

  async list(ctl: Ctl): Promise<Listing> {
    const res = { nodes: await ctl.all(ctl.api.listNodes, {}, (r) => r.nodes), nextPageToken: "" };
    const now = Date.now();
    return {
      json: protoJson("tessera.v1.ListNodesResponse", ListNodesResponse, res),
      header: ["NAME", "STATUS", "EXECUTORS", "INSTANCES", "CPU", "MEMORY", "LAST-SEEN", "VERSION"],
      rows: res.nodes.map((n) => [
        n.name,
        healthWord(n),
        n.executors.join(","),
        String(n.instances),
        `${n.allocated?.cpuMillis ?? 0}m/${n.capacity?.cpuMillis ?? 0}m`,
        `${n.allocated?.memoryMb ?? 0}Mi/${n.capacity?.memoryMb ?? 0}Mi`,
        age(n.lastHeartbeat, now),
        n.version,
      ]),
      wideHeader: ["LABELS"],
      wideRows: res.nodes.map((n) => [labelList(n.labels)]),
      empty: "No nodes.",
    };
  }
}

export class DescribeWorkloadCommand extends CtlCommand {
  static paths = [["ctl", "describe", "workload"]];
  static usage = Command.Usage({ category: "Workloads", description: "show a workload's spec, instances and recent events", examples: [["Describe web", "tessera ctl describe workload web"]] });
  name = Option.String({ required: true });

  async runWith(ctl: Ctl) {
    const res = await ctl.call(ctl.api.getWorkload, { name: this.name });
    const w = res.workload!;
    const spec = w.spec!;
    const now = Date.now();
    const out: string[] = [
      `Name:        ${w.name}`,
      `Generation:  ${w.generation}`,
      `Status:      ${w.status?.phase} (${w.status?.ready}/${w.status?.desired} ready, ${w.status?.running} running); rollout ${w.status?.rollout}`,
      `Created:     ${w.createdAt?.toISOString()} (${age(w.createdAt, now)} ago)`,
      `Labels:      ${labelList(w.labels)}`,
      "Spec:",
      indent(Bun.YAML.stringify(protoJson("tessera.v1.WorkloadSpec", WorkloadSpec, spec), null, 2).trimEnd()),
    ];
    out.push("", "Instances:", indent(instanceTable(res.instances, now)));
    out.push("", "Events:");
    out.push(res.events.length === 0 ? "  <none>" : res.events.map((e) => `  ${e.at?.toISOString()}  ${e.type.padEnd(24)} ${e.instance || e.workload}  ${e.detail}`).join("\n"));
    this.out(out.join("\n"));
  }
}

export class DescribeNodeCommand extends CtlCommand {
  static paths = [["ctl", "describe", "node"]];
  static usage = Command.Usage({ category: "Nodes", description: "show a node's capacity, labels and instances", examples: [["Describe node-a", "tessera ctl describe node node-a"]] });
  name = Option.String({ required: true });

  async runWith(ctl: Ctl) {
    const res = await ctl.call(ctl.api.getNode, { name: this.name });
    const n = res.node!;
    const now = Date.now();
    this.out(
      [
        `Name:        ${n.name}`,
        `Status:      ${healthWord(n)}`,
        `Executors:   ${n.executors.join(",")}`,
        `Labels:      ${labelList(n.labels)}`,
        `Capacity:    cpu ${n.capacity?.cpuMillis ?? 0}m, memory ${n.capacity?.memoryMb ?? 0}Mi`,
        `Allocated:   cpu ${n.allocated?.cpuMillis ?? 0}m, memory ${n.allocated?.memoryMb ?? 0}Mi`,
        `Last seen:   ${n.lastHeartbeat?.toISOString()} (${age(n.lastHeartbeat, now)} ago)`,
        `Version:     ${n.version}`,
        "",
        "Instances:",
        indent(instanceTable(res.instances, now)),
      ].join("\n"),
    );
  }
}

export class DeleteWorkloadCommand extends CtlCommand {
  static paths = [["ctl", "delete", "workload"]];
  static usage = Command.Usage({ category: "Workloads", description: "stop every instance of a workload, then remove it", examples: [["Delete web", "tessera ctl delete workload web"]] });
  name = Option.String({ required: true });

  async runWith(ctl: Ctl) {
    await ctl.call(ctl.api.deleteWorkload, { name: this.name });
    this.out(`workload/${this.name} deleted`);
  }
}

export class RolloutRestartCommand extends CtlCommand {
  static paths = [["ctl", "rollout", "restart"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "replace every instance of a workload under its disruption budget, without a spec change",
    examples: [["Restart web", "tessera ctl rollout restart web"]],
  });
  name = Option.String({ required: true });

  async runWith(ctl: Ctl) {
    await ctl.call(ctl.api.restartWorkload, { name: this.name });
    this.out(`workload/${this.name} restarting`);
  }
}

export class RolloutUndoCommand extends CtlCommand {
  static paths = [["ctl", "rollout", "undo"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "go back to the spec a workload ran before its last change (for a stalled rollout)",
    examples: [["Undo web's last change", "tessera ctl rollout undo web"]],
  });
  name = Option.String({ required: true });

  async runWith(ctl: Ctl) {
    const res = await ctl.call(ctl.api.rollbackWorkload, { name: this.name });
    this.out(`workload/${this.name} rolled back (generation ${res.workload!.generation})`);
  }
}

export class HistoryCommand extends CtlCommand {
  static paths = [["ctl", "history"]];
  static usage = Command.Usage({ category: "Workloads", description: "a workload's transitions from the event log", examples: [["History of web", "tessera ctl history web"]] });
  name = Option.String({ required: true });
  limit = Option.String("--limit", "0", { description: "only the last N events (0: all retained)" });

  async runWith(ctl: Ctl) {
    const limit = wholeNumber(this.limit, "--limit", UINT32_MAX);
    const events = await ctl.all(ctl.api.getHistory, { workload: this.name, limit }, (r) => r.events);
    if (events.length === 0) return this.out(`No history for ${this.name}.`);
    this.out(renderTable(["SEQ", "TIME", "EVENT", "INSTANCE", "NODE", "DETAIL"], events.map((e) => [String(e.sequence), e.at?.toISOString() ?? "", e.type, e.instance, e.node, e.detail])));
  }
}

abstract class NodeCommand extends CtlCommand {
  name = Option.String({ required: true });
}

export class CordonCommand extends NodeCommand {
  static paths = [["ctl", "cordon"]];
  static usage = Command.Usage({ category: "Nodes", description: "stop placing new instances on a node", examples: [["Cordon node-a", "tessera ctl cordon node-a"]] });
  async runWith(ctl: Ctl) {
    await ctl.call(ctl.api.cordonNode, { name: this.name });
    this.out(`node/${this.name} cordoned`);
  }
}

export class UncordonCommand extends NodeCommand {
  static paths = [["ctl", "uncordon"]];
  static usage = Command.Usage({ category: "Nodes", description: "allow placements on a node again (ends a drain)", examples: [["Uncordon node-a", "tessera ctl uncordon node-a"]] });
  async runWith(ctl: Ctl) {
    await ctl.call(ctl.api.uncordonNode, { name: this.name });
    this.out(`node/${this.name} uncordoned`);
  }
}

export class DrainCommand extends NodeCommand {
  static paths = [["ctl", "drain"]];
  static usage = Command.Usage({
    category: "Nodes",
    description: "move every instance off a node, replacements first, and wait until it is empty",
    examples: [
      ["Drain and wait", "tessera ctl drain node-a"],
      ["Start the drain only", "tessera ctl drain node-a --detach"],
    ],
  });
  detach = Option.Boolean("--detach", false, { description: "return once the drain has started" });
  timeout = Option.String("--timeout", "300", { description: "seconds to wait for the node to empty" });

  async runWith(ctl: Ctl) {
    const seconds = wholeNumber(this.timeout, "--timeout");
    await ctl.call(ctl.api.drainNode, { name: this.name });
    this.out(`node/${this.name} draining`);
    if (this.detach) return;
    const deadline = Date.now() + seconds * 1000;
    let last = -1;
    for (;;) {
      const res = await ctl.call(ctl.api.getNode, { name: this.name });
      const left = res.instances.filter((i) => i.desiredState === DesiredState.DESIRED_STATE_RUN || i.observedState === InstanceState.INSTANCE_STATE_STOPPING).length;
      if (left !== last) this.out(`  ${left} instance(s) left on ${this.name}`);
      last = left;
      if (left === 0) {
        this.out(`node/${this.name} drained`);
        return;
      }
      if (Date.now() > deadline) throw new RemoteError(`node ${this.name} still holds ${left} instance(s) after ${this.timeout}s; see \`tessera ctl describe node ${this.name}\``);
      await Bun.sleep(500);
    }
  }
}

export class LogsCommand extends CtlCommand {
  static paths = [["ctl", "logs"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "print a workload's output, every replica interleaved and prefixed with its instance",
    examples: [
      ["Last 20 lines of each replica", "tessera ctl logs web --tail 20"],
      ["Follow one instance", "tessera ctl logs web --instance web-0 -f"],
    ],
  });
  workload = Option.String({ required: true });
  instance = Option.String("--instance", { description: "only this instance (web-0, or an id like web-0.3)" });
  follow = Option.Boolean("-f,--follow", false, { description: "keep printing new output" });
  tail = Option.String("--tail", "0", { description: "start with the last N lines of each instance (0: all)" });

  async runWith(ctl: Ctl) {
    const tail = wholeNumber(this.tail, "--tail", UINT32_MAX);
    const call: ClientReadableStream<LogsResponse> = ctl.api.logs({ workload: this.workload, instance: this.instance ?? "", follow: this.follow, tail });
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

export class TokenRotateCommand extends CtlCommand {
  static paths = [["ctl", "token", "rotate"]];
  static usage = Command.Usage({
    category: "Security",
    description: "replace the admin or join token; the old one stops working at once",
    details: "Prints the new token once. The control plane keeps only its hash and rewrites the data dir's admin-token or join-token file.",
    examples: [
      ["New join token", "tessera ctl token rotate join"],
      ["New admin token", "tessera ctl token rotate admin"],
    ],
  });
  kind = Option.String({ required: true });

  async runWith(ctl: Ctl) {
    const kind = { admin: TokenKind.TOKEN_KIND_ADMIN, join: TokenKind.TOKEN_KIND_JOIN }[this.kind];
    if (kind === undefined) throw new UsageError(`kind: expected admin or join, got "${this.kind}"`);
    this.out((await ctl.call(ctl.api.rotateToken, { kind })).token);
  }
}

export class TokenCreateCommand extends CtlCommand {
  static paths = [["ctl", "token", "create"]];
  static usage = Command.Usage({
    category: "Security",
    description: "create a read-only token for dashboards and scripts (reads, watch, logs)",
    examples: [["A token for a dashboard", "tessera ctl token create --read-only"]],
  });
  readOnly = Option.Boolean("--read-only", false, { description: "required: the only kind that can be created" });

  async runWith(ctl: Ctl) {
    if (!this.readOnly) throw new UsageError("--read-only: required (admin and join tokens are rotated, not created)");
    this.out((await ctl.call(ctl.api.createToken, {})).token);
  }
}
