/** `tessera replay`: re-run a data dir's event log through the core, offline, optionally with one event moved in time. */
import { Command, Option, UsageError } from "clipanion";
import { TesseraCommand } from "./base.js";
import { readEventLog } from "../src/control/store/sqlite/log-reader.js";
import { replayLog, toLogged } from "../src/core/events/event-log.js";
import { renderPlanJsonl } from "../src/core/reconcile/plan-render.js";
import { DEFAULT_POLICY, isEmptyPlan } from "../src/core/reconcile/reconcile.js";
import { compareReruns, describeDecision, type LoggedInput, namesAsRecorded, recordedTurns, rerunInputs, shiftInput } from "../src/core/events/what-if.js";
import { parseDuration } from "./duration.js";
import { cronNext } from "../src/control/writer/cron.js";

/** What-if decides with the writer's cron parser: periodic batches' runs start as recorded. */
const REPLAY_POLICY = { ...DEFAULT_POLICY, cronNext };

export class ReplayCommand extends TesseraCommand {
  static paths = [["replay"]];
  static usage = Command.Usage({
    category: "Tools",
    description: "re-run a data dir's event log through the core, offline, and print the decisions",
    details:
      "Reads DATA_DIR/tessera.db read-only (copy it from a live control plane first), checks that the log folds without inconsistencies, and lets the reconciler decide again from the log's inputs (applies, deletes, node changes, agent reports). `--what-if SEQ=SHIFT` moves one event in time (SHIFT like +30s, -2s, +1m) and shows what the control plane would have decided instead, and which decisions differ. Copies are matched by workload, replica and order, not by instance id, so a copy keeps the log's name in the what-if and only what the move reaches differs; a copy the log does not have is marked *.",
    examples: [
      ["Replay a copied data dir", "tessera replay --data-dir ./copy"],
      ["What if node-b had gone offline 30 s later?", "tessera replay --data-dir ./copy --what-if 57=+30s"],
    ],
  });
  dataDir = Option.String("--data-dir", { required: true, description: "the (copied) data dir to read" });
  whatIf = Option.String("--what-if", { description: "SEQ=SHIFT: move event SEQ by SHIFT (e.g. 57=+30s)" });
  json = Option.Boolean("--json", false, { description: "print each turn's plan as JSON Lines" });

  async run(): Promise<number> {
    let log: LoggedInput[];
    try {
      log = readEventLog(this.dataDir);
    } catch (err) {
      this.context.stderr.write(`error: ${(err as Error).message}\n`);
      return 1;
    }
    const out = (s: string) => this.context.stdout.write(`${s}\n`);
    const complete = log.length > 0 && log[0]!.seq === 1;
    if (complete) replayLog(log.map((l) => toLogged(l.event)));
    else if (log.length > 0) out(`note: the log was compacted before event ${log[0]!.seq}; replaying the retained window`);
    const turns = recordedTurns(log);
    const inputs = turns.flatMap((t) => t.inputs);
    const baseline = rerunInputs(turns, REPLAY_POLICY);

    let shown = baseline;
    if (this.whatIf !== undefined) {
      const m = /^(\d+)=([+-])(.+)$/.exec(this.whatIf);
      if (!m) throw new UsageError(`--what-if: expected SEQ=+DURATION or SEQ=-DURATION (e.g. 57=+30s), got "${this.whatIf}"`);
      const seq = Number(m[1]);
      const shift = (m[2] === "-" ? -1 : 1) * parseDuration(m[3]!, "--what-if");
      const target = inputs.find((l) => l.seq === seq);
      if (!target) {
        const any = log.find((l) => l.seq === seq);
        throw new UsageError(`--what-if: event ${seq} ${any ? `is a decision (${any.event.type}), not an input; shift the input that led to it` : "is not in the log"}`);
      }
      out(`what if event ${seq} (${target.event.type}) had happened at ${new Date(target.event.at + shift).toISOString()} (${m[2]}${m[3]})?`);
      shown = rerunInputs(shiftInput(turns, seq, shift), REPLAY_POLICY);
    }

    // Turns that decided nothing and skipped nothing are left out; a what-if's copies go by the log's names.
    const told = shown.turns.filter((t) => !isEmptyPlan(t.plan) || t.skipped.length > 0);
    const name = shown === baseline ? undefined : namesAsRecorded(baseline, shown);
    for (const turn of told) {
      if (this.json) {
        for (const line of renderPlanJsonl(turn.plan)) out(line);
        continue;
      }
      const skipped = turn.skipped.length > 0 ? ` (${turn.skipped.length} input(s) no longer apply: ${turn.skipped.map((s) => s.seq).join(", ")})` : "";
      out(`${new Date(turn.at).toISOString()}  ${turn.decisions.length === 0 ? "no decisions" : turn.decisions.map((d) => describeDecision(d, name)).join("; ")}${skipped}`);
    }
    const count = (r: typeof baseline) => r.turns.reduce((n, t) => n + t.decisions.length, 0);
    out(`${inputs.length} inputs, ${told.length} turns, ${count(shown)} decisions${complete ? "; the log folds consistently" : ""}`);
    if (this.whatIf !== undefined) {
      const { added, gone } = compareReruns(baseline, shown);
      out(`compared with the log as recorded: ${added.length} decision(s) only in the what-if, ${gone.length} only as recorded`);
      for (const l of added) out(`  + ${new Date(l.at).toISOString()} ${l.what}`);
      for (const l of gone) out(`  - ${new Date(l.at).toISOString()} ${l.what}`);
      if (added.some((l) => l.what.includes("* "))) out("  (*: a copy the log does not have, by its id in the what-if)");
    }
    return 0;
  }
}
