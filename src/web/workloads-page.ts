/// <reference lib="dom" />
/**
 * The workloads table (name, kind, READY, UP-TO-DATE, status, generation, nodes, age, schedule;
 * sortable and filterable) and a workload's page: its rollout and actions, a periodic batch's
 * runs, spec as JSON or YAML, copies (a copy picked opens the copy panel: its log, followed, or
 * the previous copy's), endpoints, revision history, exec audit trail and events.
 */
import type { CopyTile, WorkloadTile } from "../core/views/fleet-view.js";
import { actionButton, age, getJson, h, link, pairs } from "./dom.js";
import { workloadStatusOf } from "./overview.js";
import type { PageContext, PageView } from "./page.js";
import { Panel } from "./panel.js";
import { eventsHref, nodeHref, type Place, workloadHref } from "./routes.js";
import { Table } from "./table.js";
import { execTrail, type PeriodicStatus, scheduleView, type SpecFormat, specView, type SpecViews } from "./workload-sections.js";

/** Each workload's nodes (those its wanted copies are placed on), in one pass over the copies. */
function nodesByWorkload(ctx: PageContext): Map<string, string> {
  const sets = new Map<string, Set<string>>();
  for (const c of ctx.fleet().copies.values()) {
    if (c.node === null || c.desired !== "run") continue;
    let s = sets.get(c.workload);
    if (!s) sets.set(c.workload, (s = new Set()));
    s.add(c.node);
  }
  return new Map([...sets].map(([w, s]) => [w, [...s].sort().join(", ")]));
}

type WorkloadRow = WorkloadTile & { nodes: string };

export class WorkloadsPage implements PageView {
  readonly el = h("section", { "aria-labelledby": "workloads-title" }, h("h2", { id: "workloads-title", tabindex: "-1", text: "Workloads" }));
  private readonly table: Table<WorkloadRow>;

  constructor(private readonly ctx: PageContext) {
    this.table = new Table<WorkloadRow>("workloads", [
      { title: "Name", value: (w) => w.name, cell: (w) => link(workloadHref(w.name), w.name) },
      { title: "Kind", value: (w) => w.kind },
      { title: "READY", value: (w) => w.ready, cell: (w) => `${w.ready}/${w.desired}` },
      { title: "UP-TO-DATE", value: (w) => w.upToDate },
      { title: "Status", value: workloadStatusOf },
      { title: "Generation", value: (w) => w.generation },
      { title: "Nodes", value: (w) => w.nodes },
      { title: "Age", value: (w) => -w.createdAt, cell: (w) => age(w.createdAt) },
      { title: "Schedule", value: (w) => w.schedule },
    ]);
    this.el.append(this.table.el);
  }

  open(): void {
    this.refresh();
  }

  refresh(): void {
    const nodes = nodesByWorkload(this.ctx);
    this.table.show([...this.ctx.fleet().workloads.values()].map((w) => ({ ...w, nodes: nodes.get(w.name) ?? "" })));
  }

  close(): void {}
}

interface WorkloadDetail extends SpecViews {
  status: PeriodicStatus & { phase: string; rollout: string };
  endpoints: { copy: string; port: string; address: string }[];
}
interface WireEvent {
  sequence: number;
  at: string;
  type: string;
  instance: string;
  node: string;
  summary: string;
  detail: string;
}

export class WorkloadPage implements PageView {
  readonly el = h("section", { "aria-labelledby": "workload-title" });
  private name = "";
  private readonly title = h("h2", { id: "workload-title", tabindex: "-1" });
  private readonly summary = h("div");
  private readonly actions = h("div", { class: "actions", role: "group", "aria-label": "Rollout actions" });
  private readonly detail = h("div");
  private readonly copies: Table<CopyTile>;
  private readonly panel: Panel;
  private asked = 0;
  /** The tile last loaded for, and the actions last offered: only a change reads or draws them again. */
  private loaded = "";
  private offered = "";
  /** The picked copy's tile as the panel last drew it: the panel reads its events again only when it changed. */
  private picked = "";
  /** The spec's format last chosen, kept as the page is redrawn. */
  private format: SpecFormat = "JSON";

  constructor(private readonly ctx: PageContext) {
    this.copies = new Table<CopyTile>("copies", [
      { title: "Copy", value: (c) => c.name, cell: (c) => this.pickButton(c) },
      { title: "State", value: (c) => `${c.state}${c.ready ? " (Ready)" : ""}${c.desired === "stop" ? ", stopping" : ""}` },
      { title: "Node", value: (c) => c.node ?? "", cell: (c) => (c.node === null ? "not placed" : link(nodeHref(c.node), c.node)) },
      { title: "Ports", value: (c) => c.ports.map((p) => `${p.name} ${p.hostPort}/${p.protocol}`).join(", ") },
      { title: "Generation", value: (c) => c.generation },
      { title: "Reason", value: (c) => c.reason },
    ]);
    const aside = h("aside", { class: "copy-panel", "aria-label": "Selected copy", hidden: "" });
    this.panel = new Panel(aside, ctx.fleet, { admin: false, workloadAction: () => {} });
    this.el.append(this.title, this.summary, this.actions, h("h3", { text: "Copies" }), this.copies.el, aside, this.detail);
  }

  open(place: Place): void {
    if (place.page !== "workload") return;
    if (place.name !== this.name) this.panel.close();
    this.name = place.name;
    this.loaded = "";
    this.offered = "";
    this.title.textContent = `Workload ${place.name}`;
    this.refresh();
  }

  refresh(): void {
    const w = this.ctx.fleet().workloads.get(this.name);
    if (!w) {
      this.summary.replaceChildren(h("p", { text: `No workload named ${this.name}${this.ctx.pastSeq() ? " at this event" : ""}.` }));
      this.actions.replaceChildren();
      this.copies.show([]);
      return;
    }
    this.summary.replaceChildren(
      pairs([
        ["Kind", w.kind],
        ["Status", workloadStatusOf(w)],
        ["READY", `${w.ready}/${w.desired}`],
        ["UP-TO-DATE", String(w.upToDate)],
        ["Generation", String(w.generation)],
        ["Rollout held by", w.hold || "nothing"],
        ["Age", age(w.createdAt)],
        ["Events", link(eventsHref({ workload: w.name }), `events of ${w.name}`)],
      ]),
    );
    this.copies.show([...this.ctx.fleet().copies.values()].filter((c) => c.workload === this.name));
    const picked = JSON.stringify(this.ctx.fleet().copies.get(this.panel.selected) ?? null);
    if (picked !== this.picked) {
      this.picked = picked;
      this.panel.refresh();
    }
    const tile = JSON.stringify(w);
    if (tile !== this.loaded) {
      this.loaded = tile;
      void this.load(w);
    }
  }

  close(): void {
    this.panel.close();
  }

  private pickButton(c: CopyTile): HTMLButtonElement {
    const b = h("button", { type: "button", class: "link", text: c.name, "aria-label": `${c.name}: show details and log` });
    b.onclick = () => this.panel.show(c.id);
    return b;
  }

  /** The spec, status, endpoints and history, read again (an answer to an older ask is dropped). */
  private async load(w: WorkloadTile): Promise<void> {
    const asked = ++this.asked;
    const [detail, history] = await Promise.all([
      getJson<WorkloadDetail>(`/api/workloads/${encodeURIComponent(w.name)}`).catch((e: Error) => e),
      getJson<{ events: WireEvent[] }>(`/api/history?workload=${encodeURIComponent(w.name)}&limit=200`).catch((e: Error) => e),
    ]);
    if (asked !== this.asked) return;
    const events = history instanceof Error ? [] : history.events;
    const revisions = events.filter((e) => e.type === "WorkloadApplied").map((e) => ({ seq: e.sequence, at: e.at, generation: (JSON.parse(e.detail) as { workload: { generation: number } }).workload.generation }));
    this.drawActions(w, revisions.map((r) => r.generation).filter((g) => g !== w.generation));
    const parts: Node[] = [];
    if (detail instanceof Error) parts.push(h("p", { role: "alert", text: detail.message }));
    else {
      // A periodic batch has no rollout of its own: its runs are what it does.
      parts.push(...(detail.spec.schedule ? scheduleView(detail.spec, detail.status) : [h("h3", { text: "Rollout" }), h("p", { text: `${detail.status.phase}: ${detail.status.rollout}` })]));
      parts.push(h("h3", { text: "Endpoints" }), h("ul", {}, ...(detail.endpoints.length === 0 ? [h("li", { text: "none" })] : detail.endpoints.map((e) => h("li", { text: `${e.copy} ${e.port}: ${e.address}` })))));
      parts.push(...specView(detail, this.format, (f) => (this.format = f)));
    }
    parts.push(h("h3", { text: "Revisions" }), h("ol", { class: "revisions" }, ...revisions.map((r) => h("li", { text: `generation ${r.generation}, applied ${new Date(r.at).toLocaleString()} (#${r.seq})` }))));
    parts.push(...execTrail(events));
    parts.push(h("h3", { text: "Events" }), h("ol", { class: "timeline" }, ...events.slice(-50).map((e) => h("li", { text: `#${e.sequence} ${new Date(e.at).toLocaleTimeString()} ${e.summary}` }))));
    this.detail.replaceChildren(...parts);
  }

  private drawActions(w: WorkloadTile, revisions: number[]): void {
    const offered = JSON.stringify([w.hold, w.paused, revisions, this.ctx.pastSeq()]);
    if (offered === this.offered) return;
    this.offered = offered;
    if (!this.ctx.admin || this.ctx.pastSeq() !== undefined) return this.actions.replaceChildren();
    const path = (a: string) => `/api/workloads/${encodeURIComponent(w.name)}/${a}`;
    const revision = h("select", { id: "undo-revision" }, h("option", { value: "", text: "the spec before the last change" }), ...revisions.map((g) => h("option", { value: String(g), text: `generation ${g}` })));
    const chosen = () => (revision.value === "" ? {} : { revision: Number(revision.value) });
    this.actions.replaceChildren(
      ...(w.hold === "canary" ? [actionButton("Promote", path("promote"), `Promote the rollout of ${w.name} past its canaries?`)] : []),
      w.paused ? actionButton("Resume", path("resume"), `Resume the rollout of ${w.name}?`) : actionButton("Pause", path("pause"), `Pause the rollout of ${w.name}?`),
      actionButton("Restart", path("restart"), `Restart every copy of ${w.name}, one at a time?`),
      h("label", {}, "Undo to ", revision),
      actionButton("Undo", path("undo"), () => `Roll ${w.name} back to ${revision.selectedOptions[0]?.text ?? "the spec before the last change"}?`, chosen),
      actionButton("Delete", path("delete"), `Delete workload ${w.name} and stop all its copies?`),
    );
  }
}
