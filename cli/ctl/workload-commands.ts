/** `tessera ctl` commands on workloads: apply, plan, get, describe, delete, rollout. */
import type { JsonObject } from "@bufbuild/protobuf";
import { Command, Option } from "clipanion";
import { type AppliedWorkload, ApplyOutcome, GetWorkloadResponse, ListEndpointsResponse, ListInstancesResponse, ListWorkloadsResponse } from "../../src/gen/tessera/v1/control_plane.js";
import { DesiredState, type Workload } from "../../src/gen/tessera/v1/types.js";
import { oneOf, wholeNumber } from "../argv.js";
import { rolloutRevisions, specAtRevision } from "../../src/core/events/rollout-history.js";
import { clusterEventOf } from "./render.js";
import type { Ctl } from "../client.js";
import { parseDuration } from "../duration.js";
import { RemoteError } from "../errors.js";
import { readManifests } from "../manifest.js";
import { age, renderTable } from "../table.js";
import { CtlCommand, ShowCommand } from "./ctl-command.js";
import { GetCommand, type Listing } from "./get-command.js";
import { describeWorkload, ENDPOINT_HEADER, endpointRow, formatKind, progressOf, INSTANCE_HEADER, instanceRow, labelList, protoJson, quarantineLines, renderDocument } from "./render.js";
import { waitForRollout } from "./waits.js";

/**
 * What apply says it did to one workload: "created (generation 1)", "configured (generation 2)",
 * "configured (labels only; generation 1)" (the generation stays, no copy is touched), or
 * "unchanged (generation 1)".
 */
function appliedLine(w: AppliedWorkload): string {
  const relabeled = w.outcome === ApplyOutcome.APPLY_OUTCOME_RELABELED;
  // A control plane that predates `outcome` says only whether anything changed.
  const word = w.outcome === ApplyOutcome.APPLY_OUTCOME_CREATED ? "created" : relabeled || w.outcome === ApplyOutcome.APPLY_OUTCOME_CONFIGURED || (w.outcome === ApplyOutcome.APPLY_OUTCOME_UNSPECIFIED && w.changed) ? "configured" : "unchanged";
  return `workload/${w.name} ${word} (${relabeled ? "labels only; " : ""}generation ${w.generation})`;
}

export class ApplyCommand extends CtlCommand {
  static paths = [["ctl", "apply"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "create or update workloads from manifests",
    details:
      "A manifest is the proto3 JSON (or YAML) form of tessera.v1.Workload; a file may hold several (a JSON array, YAML documents separated by ---, or a YAML list), and a directory applies every .json/.yaml/.yml file in it. Durations take Go's form as flags do (500ms, 1m30s) or proto3's (90s); a syntax error is refused with its line and column. All of them go in one ApplyWorkloads call, committed together or not at all: a bad file applies nothing. Applying an unchanged manifest changes nothing.",
    examples: [
      ["Apply web.json", "tessera ctl apply -f web.json"],
      ["Apply a directory and wait until its rollouts complete (exit 1 if one is reverted, superseded or stalled)", "tessera ctl apply -f ./manifests --wait"],
      ["From stdin", "cat web.yaml | tessera ctl apply -f -"],
    ],
  });
  file = Option.String("-f,--file", { required: true, description: "manifest file, directory, or - for stdin" });
  wait = Option.Boolean("--wait", false, { description: "follow the rollout until every replica is an available copy of the generation applied (a batch: Complete); exit 1 if that generation is reverted, superseded by another, stalled past its progress deadline, or (a batch) Failed" });
  timeout = Option.String("--timeout", "5m", { description: "how long --wait waits before failing" });
  force = Option.Boolean("--force", false, { description: "apply even a spec whose rollout failed and was reverted (auto_revert)" });

  async runWith(ctl: Ctl) {
    const timeoutMs = parseDuration(this.timeout, "--timeout");
    const manifests = await readManifests(this.file);
    const workloads = manifests.map((m) => m.workload);
    // One call, all or nothing: nothing is applied unless every workload is accepted.
    const { applied } = await ctl.call(ctl.api.applyWorkloads, { workloads, force: this.force }).catch((err: unknown) => {
      // The server locates a refusal as workloads[i]: say which file that is.
      const at = err instanceof RemoteError ? /workloads\[(\d+)\]/.exec(err.message) : null;
      if (!at) throw err;
      const { message, code } = err as RemoteError;
      throw new RemoteError(`${message.replace(at[0], "workload")} (${manifests[Number(at[1])]?.source})`, code);
    });
    for (const w of applied) this.out(appliedLine(w));
    if (this.wait) await waitForRollout(ctl, applied, timeoutMs, this.context.stdout);
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
    oneOf(this.output, "-o", ["text", "json"]);
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
    const periodic = res.workloads.some((w) => (w.spec?.schedule ?? "") !== "");
    return {
      json: protoJson("tessera.v1.ListWorkloadsResponse", ListWorkloadsResponse, res),
      // READY counts the copies that serve, of any generation (a batch: its runs that
      // succeeded, of its completions); UP-TO-DATE the replicas with a copy of the current spec.
      // Periodic batches (spec.schedule) add their latest run, how it went, and the next time.
      header: ["NAME", "READY", "STATUS", "GEN", "UP-TO-DATE", "NODES", "AGE", ...(periodic ? ["LAST-RUN", "OUTCOME", "NEXT-RUN"] : [])],
      rows: res.workloads.map((w) => {
        const s = w.status;
        return [w.name, progressOf(w), s?.phase ?? "", String(w.generation), String(s?.upToDate ?? 0), s?.nodes.join(",") || "<none>", age(w.createdAt, now), ...(periodic ? runColumns(w) : [])];
      }),
      wideHeader: ["KIND", "IMAGE", "COMMAND", "LABELS"],
      wideRows: res.workloads.map((w) => [formatKind(w.spec), w.spec?.image || "<none>", [w.spec?.command, ...(w.spec?.args ?? [])].join(" "), labelList(w.labels)]),
      empty: "No workloads.",
    };
  }
}

/** A periodic batch's LAST-RUN, OUTCOME (its first word; describe shows the rest) and NEXT-RUN (UTC); <none> for other workloads. */
function runColumns(w: Workload): string[] {
  const s = w.status;
  if ((w.spec?.schedule ?? "") === "") return ["<none>", "<none>", "<none>"];
  const outcome = s?.lastRunOutcome.split(":")[0] || "<none>";
  return [s?.lastRun || "<none>", outcome, s?.nextRunTime ? `${s.nextRunTime.toISOString().slice(0, 19)}Z` : "<none>"];
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
      header: INSTANCE_HEADER,
      rows: res.instances.map(instanceRow(now)),
      wideHeader: ["WORKLOAD", "GENERATION", "READY", "CHECKS-PASSING"],
      wideRows: res.instances.map((i) => [i.workload, String(i.generation), i.ready ? "yes" : "no", i.passingChecks.join(",") || "<none>"]),
      empty: "No instances.",
    };
  }
}

export class GetEndpointsCommand extends GetCommand {
  static paths = [["ctl", "get", "endpoints"], ["ctl", "get", "endpoint"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "list where copies answer (one row per port of each running copy, with its readiness), of every workload or of one",
    examples: [
      ["All", "tessera ctl get endpoints"],
      ["Of web, following changes", "tessera ctl get endpoints web --watch"],
    ],
  });
  workload = Option.String({ required: false });

  async list(ctl: Ctl): Promise<Listing> {
    const res = { endpoints: await ctl.all(ctl.api.listEndpoints, { workload: this.workload ?? "" }, (r) => r.endpoints), nextPageToken: "" };
    return {
      json: protoJson("tessera.v1.ListEndpointsResponse", ListEndpointsResponse, res),
      header: ENDPOINT_HEADER,
      rows: res.endpoints.map(endpointRow),
      wideHeader: ["WORKLOAD", "NAME", "PROTOCOL"],
      wideRows: res.endpoints.map((e) => [e.workload, e.name, e.protocol]),
      empty: "No endpoints.",
    };
  }
}

export class DescribeWorkloadCommand extends ShowCommand {
  static paths = [["ctl", "describe", "workload"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "show a workload's spec, instances, endpoints and recent events",
    details: "-o json or yaml prints GetWorkload's response as proto3 JSON, with the workload's endpoints (ListEndpoints) added as `endpoints`.",
    examples: [
      ["Describe web", "tessera ctl describe workload web"],
      ["As proto3 JSON", "tessera ctl describe workload web -o json"],
    ],
  });
  name = Option.String({ required: true });

  async runWith(ctl: Ctl) {
    const format = this.format();
    const res = await ctl.call(ctl.api.getWorkload, { name: this.name });
    const endpoints = await ctl.all(ctl.api.listEndpoints, { workload: this.name }, (r) => r.endpoints);
    if (format === "text") return this.out(describeWorkload(res, endpoints, Date.now()));
    const described = protoJson("tessera.v1.GetWorkloadResponse", GetWorkloadResponse, res) as JsonObject;
    const listed = protoJson("tessera.v1.ListEndpointsResponse", ListEndpointsResponse, { endpoints, nextPageToken: "" }) as JsonObject;
    this.out(renderDocument(format, { ...described, ...listed }));
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

export class RolloutPromoteCommand extends CtlCommand {
  static paths = [["ctl", "rollout", "promote"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "let a rollout held at its canaries (update.canary) replace the rest of its copies",
    examples: [["Promote web's canaries", "tessera ctl rollout promote web"]],
  });
  name = Option.String({ required: true });

  async runWith(ctl: Ctl) {
    const res = await ctl.call(ctl.api.promoteRollout, { name: this.name });
    this.out(`workload/${this.name} promoted (generation ${res.workload!.generation}); rollout ${res.workload!.status?.rollout}`);
  }
}

export class RolloutStatusCommand extends CtlCommand {
  static paths = [["ctl", "rollout", "status"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "where a workload's latest change stands: its generation, phase, counts and what holds it",
    examples: [["Status of web's rollout", "tessera ctl rollout status web"]],
  });
  name = Option.String({ required: true });

  async runWith(ctl: Ctl) {
    const res = await ctl.call(ctl.api.getWorkload, { name: this.name });
    const w = res.workload!;
    const s = w.status!;
    const byGeneration = new Map<number, number>();
    for (const i of res.instances) if (i.desiredState === DesiredState.DESIRED_STATE_RUN) byGeneration.set(i.generation, (byGeneration.get(i.generation) ?? 0) + 1);
    const copies = [...byGeneration].sort((a, b) => a[0] - b[0]).map(([g, n]) => `${n} of generation ${g}`);
    this.out(
      [
        `workload/${w.name} generation ${w.generation}: ${s.rollout}`,
        `  desired ${s.desired}, ready ${s.ready} (serving, of any generation); of the current spec: up-to-date ${s.upToDate}, running ${s.running}, available ${s.available}`,
        `  copies: ${copies.join(", ") || "none"}`,
        ...quarantineLines(w).map((l) => `  crash-loop quarantine on ${l}`),
      ].join("\n"),
    );
  }
}

export class RolloutUndoCommand extends CtlCommand {
  static paths = [["ctl", "rollout", "undo"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "go back to the spec a workload ran before its last change, or to a revision `rollout history` lists",
    examples: [
      ["Undo web's last change", "tessera ctl rollout undo web"],
      ["Go back to revision 3", "tessera ctl rollout undo web --to-revision 3"],
    ],
  });
  name = Option.String({ required: true });
  toRevision = Option.String("--to-revision", "0", { description: "the revision (a generation, see rollout history) to go back to; 0: the one before the last change" });

  async runWith(ctl: Ctl) {
    const toRevision = wholeNumber(this.toRevision, "--to-revision");
    const res = await ctl.call(ctl.api.rollbackWorkload, { name: this.name, toRevision });
    this.out(`workload/${this.name} rolled back (generation ${res.workload!.generation})`);
  }
}

export class RolloutPauseCommand extends CtlCommand {
  static paths = [["ctl", "rollout", "pause"], ["ctl", "rollout", "resume"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "pause a workload's rollout (no old copy is replaced until resumed), or resume it",
    examples: [
      ["Pause web's rollout", "tessera ctl rollout pause web"],
      ["Resume it", "tessera ctl rollout resume web"],
    ],
  });
  name = Option.String({ required: true });

  async runWith(ctl: Ctl) {
    const paused = this.path.at(-1) === "pause";
    const res = await ctl.call(ctl.api.pauseRollout, { name: this.name, paused });
    this.out(`workload/${this.name} rollout ${paused ? "paused" : "resumed"}; ${res.workload!.status?.rollout}`);
  }
}

export class RolloutHistoryCommand extends CtlCommand {
  static paths = [["ctl", "rollout", "history"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "a workload's revisions (each change of what runs) and how each rollout ended",
    examples: [["Revisions of web", "tessera ctl rollout history web"]],
  });
  name = Option.String({ required: true });

  async runWith(ctl: Ctl) {
    const events = await ctl.all(ctl.api.getHistory, { workload: this.name, limit: 0 }, (r) => r.events);
    const revisions = rolloutRevisions(events.map(clusterEventOf));
    if (revisions.length === 0) return this.out(`No revisions of ${this.name} in the event log.`);
    // The last one's outcome is where its rollout stands now.
    const live = await ctl.call(ctl.api.getWorkload, { name: this.name }).then((r) => r.workload?.status?.rollout, () => undefined);
    // Which version of each secret and config a revision ran with (`rollout undo` restores
    // them): a column only for a workload that uses any.
    const versionsOf = (revision: number) =>
      Object.entries(specAtRevision(events.map(clusterEventOf), revision)?.secretVersions ?? {})
        .map(([id, v]) => `${id}=${v}`)
        .join(",");
    const versions = revisions.map((r) => versionsOf(r.revision));
    const withVersions = versions.some((v) => v !== "");
    const rows = revisions.map((r, i) => [String(r.revision), new Date(r.at).toISOString(), r.cause, i === revisions.length - 1 && r.outcome === "in progress" && live ? live : r.outcome, ...(withVersions ? [versions[i] || "<none>"] : [])]);
    this.out(renderTable(["REVISION", "TIME", "CAUSE", "OUTCOME", ...(withVersions ? ["SECRETS"] : [])], rows));
  }
}
