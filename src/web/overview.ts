/// <reference lib="dom" />
/**
 * The overview's head: the fleet in counts (nodes by health, workloads by status, copies by
 * state, rollouts in progress, recent failures, each failure linking to its workload) and a
 * legend of the mosaic's tile letters and colours.
 */
import { type Fleet, STATE_LETTER, type WorkloadTile } from "../core/views/fleet-view.js";
import { h, link } from "./dom.js";
import { workloadHref } from "./routes.js";

/** Failed copies listed by name. */
const FAILURES_LISTED = 5;

/** A workload's status in a word, as the tables show it. */
export function workloadStatusOf(w: WorkloadTile): string {
  if (w.deleting) return "deleting";
  if (w.schedule !== "") return "scheduled";
  if (w.hold !== "") return `held: ${w.hold}`;
  if (w.upToDate < w.desired) return "rolling out";
  return w.ready >= w.desired ? "ready" : "degraded";
}

const tally = (values: Iterable<string>) => {
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return [...m].sort(([a], [b]) => a.localeCompare(b));
};

function card(title: string, rows: Array<[string, number]>, extra?: Node): HTMLElement {
  const list = h("ul", {}, ...(rows.length === 0 ? [h("li", { text: "none" })] : rows.map(([k, n]) => h("li", {}, h("strong", { text: String(n) }), ` ${k}`))));
  return h("section", { class: "card", "aria-label": title }, h("h3", { text: title }), list, ...(extra ? [extra] : []));
}

export function drawCounts(el: HTMLElement, fleet: Fleet): void {
  const nodes = [...fleet.nodes.values()];
  const workloads = [...fleet.workloads.values()];
  const copies = [...fleet.copies.values()];
  const rolling = workloads.filter((w) => !w.deleting && (w.upToDate < w.desired || w.hold !== ""));
  const failed = copies.filter((c) => c.state === "failed" && c.desired === "run");
  const failures = h("ul", { class: "failures" }, ...failed.slice(0, FAILURES_LISTED).map((c) => h("li", {}, link(workloadHref(c.workload), c.name), `: ${c.reason || "failed"}`)));
  el.replaceChildren(
    card("Nodes", [...tally(nodes.map((n) => n.health)), ...(nodes.some((n) => n.cordoned) ? [["cordoned", nodes.filter((n) => n.cordoned).length] as [string, number]] : [])]),
    card("Workloads", tally(workloads.map(workloadStatusOf))),
    card("Copies", tally(copies.map((c) => (c.state === "running" && c.ready ? "running, ready" : c.state)))),
    card("Rollouts in progress", rolling.length === 0 ? [] : [["rolling out", rolling.length]], h("ul", {}, ...rolling.slice(0, FAILURES_LISTED).map((w) => h("li", {}, link(workloadHref(w.name), w.name), ` ${w.upToDate}/${w.desired} up to date${w.hold ? `, ${w.hold}` : ""}`)))),
    card("Recent failures", failed.length === 0 ? [] : [["failed copies", failed.length]], failures),
  );
}

const STATE_TEXT: Array<[keyof typeof STATE_LETTER, boolean, string]> = [
  ["pending", false, "Pending: not placed yet"],
  ["scheduled", false, "Scheduled on a node"],
  ["provisioning", false, "Provisioning (pulling, starting)"],
  ["running", false, "Running, not Ready"],
  ["running", true, "Running and Ready"],
  ["failed", false, "Failed"],
  ["stopping", false, "Stopping"],
  ["stopped", false, "Stopped"],
  ["lost", false, "Lost with its node"],
  ["succeeded", false, "Succeeded (batch)"],
];

export function legend(): HTMLElement {
  const items = STATE_TEXT.map(([state, ready, text]) => h("li", {}, h("span", { class: "swatch", "data-state": state, "data-ready": String(ready), "aria-hidden": "true", text: STATE_LETTER[state] }), ` ${STATE_LETTER[state]} ${text}`));
  const nodes = [
    h("li", {}, h("span", { class: "node-swatch", "data-health": "suspect", "aria-hidden": "true" }), " node Suspect (missed heartbeats)"),
    h("li", {}, h("span", { class: "node-swatch", "data-health": "offline", "aria-hidden": "true" }), " node Offline"),
    h("li", {}, h("span", { class: "node-swatch", "data-cordoned": "true", "aria-hidden": "true" }), " node cordoned"),
  ];
  return h("details", { class: "legend", open: "" }, h("summary", { text: "Legend" }), h("ul", {}, ...items, ...nodes), h("p", { text: "A tile with a dashed border is a copy being stopped. The bar under a node is the CPU its copies reserve of its capacity." }));
}
