/// <reference lib="dom" />
/**
 * Parts of a workload's page drawn from what its reads return: the spec as JSON or YAML (the
 * control plane renders both), a periodic batch's schedule with its last run, outcome and next
 * run, and the exec audit trail (who ran what in which copy, and when; never the output).
 */
import { h, link, pairs } from "./dom.js";
import { workloadHref } from "./routes.js";

export interface SpecViews {
  spec: { schedule?: string; timeZone?: string };
  specYaml: string;
}

export interface PeriodicStatus {
  lastRun: string;
  lastRunOutcome: string;
  /** Milliseconds since the epoch; absent when no run is due (deleting). */
  nextRunTime?: number;
}

export interface ExecEvent {
  sequence: number;
  at: string;
  type: string;
  summary: string;
}

export type SpecFormat = "JSON" | "YAML";

/** The spec in the format chosen, with a pressed button per format; `chose` remembers a new choice. */
export function specView(detail: SpecViews, format: SpecFormat, chose: (f: SpecFormat) => void): Node[] {
  const text = (f: SpecFormat) => (f === "JSON" ? JSON.stringify(detail.spec, null, 2) : detail.specYaml);
  const pre = h("pre", { class: "spec", tabindex: "0", "aria-label": `Spec as ${format}`, text: text(format) });
  const buttons = (["JSON", "YAML"] as const).map((f) => {
    const b = h("button", { type: "button", "aria-pressed": String(f === format), text: f });
    b.onclick = () => {
      chose(f);
      for (const o of buttons) o.setAttribute("aria-pressed", String(o === b));
      pre.textContent = text(f);
      pre.setAttribute("aria-label", `Spec as ${f}`);
    };
    return b;
  });
  return [h("h3", { text: "Spec" }), h("div", { class: "formats", role: "group", "aria-label": "Spec format" }, ...buttons), pre];
}

/** A periodic batch's schedule, its last run (a link to that run's workload while it is kept), how it went, and the next time. */
export function scheduleView(spec: SpecViews["spec"], status: PeriodicStatus): Node[] {
  const last = status.lastRun === "" ? "none yet" : link(workloadHref(status.lastRun), status.lastRun);
  return [
    h("h3", { text: "Schedule" }),
    pairs([
      ["Schedule", `${spec.schedule ?? ""} (${spec.timeZone || "UTC"})`],
      ["Last run", last],
      ["Outcome", status.lastRunOutcome || "—"],
      ["Next run", status.nextRunTime === undefined ? "none" : new Date(status.nextRunTime).toISOString()],
    ]),
  ];
}

/** Each exec into the workload's copies, from its InstanceExecStarted events: who ran what, where and when. */
export function execTrail(events: ExecEvent[]): Node[] {
  const execs = events.filter((e) => e.type === "InstanceExecStarted");
  return [
    h("h3", { text: "Exec audit trail" }),
    h("ol", { class: "exec-trail", "aria-label": "Commands run in its copies" }, ...(execs.length === 0 ? [h("li", { text: "no command run in its copies" })] : execs.map((e) => h("li", { text: `#${e.sequence} ${new Date(e.at).toLocaleString()} ${e.summary}` })))),
  ];
}
