/**
 * The engine behind every `ctl get`: one listing printed as a table, a wide table, JSON or
 * YAML, once or again every second with --watch (then only what changed).
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { Option } from "clipanion";
import { oneOf } from "../argv.js";
import type { Ctl } from "../client.js";
import { renderTable } from "../table.js";
import { CtlCommand } from "./ctl-command.js";
import { renderDocument } from "./render.js";

/** What a `get` shows: the response as proto3 JSON, and its table (wide adds columns). */
export interface Listing {
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
export abstract class GetCommand extends CtlCommand {
  output = Option.String("-o,--output", "table", { description: "table, wide, json (proto3 JSON of the response) or yaml" });
  watch = Option.Boolean("-w,--watch", false, { description: "keep printing changes until interrupted" });

  abstract list(ctl: Ctl): Promise<Listing>;

  async runWith(ctl: Ctl) {
    const format = oneOf(this.output, "-o", OUTPUTS);
    let stop = false;
    if (this.watch) process.once("SIGINT", () => (stop = true));
    const printed = new Map<string, string>();
    let lastDoc = "";
    for (let first = true; first || !stop; first = false) {
      const l = await this.list(ctl);
      if (format === "json" || format === "yaml") {
        const doc = renderDocument(format, l.json);
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
