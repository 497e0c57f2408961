/// <reference lib="dom" />
/**
 * The nodes table (name, health, flags, copies, CPU and memory reserved of capacity, labels;
 * sortable and filterable) and a node's page: labels, executors, host volumes, capacity, its
 * copies, its events, and (an admin) cordon, uncordon and drain, the drain's progress being
 * the copies still on it.
 */
import type { CopyTile, NodeTile } from "../core/views/fleet-view.js";
import { actionButton, getJson, h, link, pairs } from "./dom.js";
import type { PageContext, PageView } from "./page.js";
import { eventsHref, nodeHref, type Place, workloadHref } from "./routes.js";
import { Table } from "./table.js";

const flagsOf = (n: NodeTile) => [n.cordoned ? "cordoned" : "", n.draining ? "draining" : ""].filter(Boolean).join(", ");
const labelsOf = (n: NodeTile) => Object.entries(n.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(" ");
const copiesOn = (ctx: PageContext, node: string) => [...ctx.fleet().copies.values()].filter((c) => c.node === node && c.desired === "run");

/** How many wanted copies each node holds, in one pass over the copies. */
function copiesPerNode(ctx: PageContext): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of ctx.fleet().copies.values()) if (c.node !== null && c.desired === "run") m.set(c.node, (m.get(c.node) ?? 0) + 1);
  return m;
}

type NodeRow = NodeTile & { copies: number };

export class NodesPage implements PageView {
  readonly el = h("section", { "aria-labelledby": "nodes-title" }, h("h2", { id: "nodes-title", tabindex: "-1", text: "Nodes" }));
  private readonly table: Table<NodeRow>;

  constructor(private readonly ctx: PageContext) {
    this.table = new Table<NodeRow>("nodes", [
      { title: "Name", value: (n) => n.name, cell: (n) => link(nodeHref(n.name), n.name) },
      { title: "Health", value: (n) => n.health },
      { title: "Flags", value: flagsOf },
      { title: "Copies", value: (n) => n.copies },
      { title: "CPU reserved", value: (n) => n.allocated.cpuMillis, cell: (n) => `${n.allocated.cpuMillis}m of ${n.capacity.cpuMillis}m` },
      { title: "Memory reserved", value: (n) => n.allocated.memoryMb, cell: (n) => `${n.allocated.memoryMb} of ${n.capacity.memoryMb} MB` },
      { title: "Labels", value: labelsOf },
    ]);
    this.el.append(this.table.el);
  }

  open(): void {
    this.refresh();
  }

  refresh(): void {
    const copies = copiesPerNode(this.ctx);
    this.table.show([...this.ctx.fleet().nodes.values()].map((n) => ({ ...n, copies: copies.get(n.name) ?? 0 })));
  }

  close(): void {}
}

interface NodeDetail {
  executors: string[];
  version: string;
  volumes: { name: string; path: string; readOnly: boolean }[];
  address: string;
}

export class NodePage implements PageView {
  readonly el = h("section", { "aria-labelledby": "node-title" });
  private name = "";
  private readonly title = h("h2", { id: "node-title", tabindex: "-1" });
  private readonly summary = h("div");
  private readonly actions = h("div", { class: "actions", role: "group", "aria-label": "Node actions" });
  private readonly detail = h("div");
  private readonly copies: Table<CopyTile>;
  private offered = "";

  constructor(private readonly ctx: PageContext) {
    this.copies = new Table<CopyTile>("copies on this node", [
      { title: "Copy", value: (c) => c.name },
      { title: "Workload", value: (c) => c.workload, cell: (c) => link(workloadHref(c.workload), c.workload) },
      { title: "State", value: (c) => `${c.state}${c.ready ? " (Ready)" : ""}` },
      { title: "Ports", value: (c) => c.ports.map((p) => `${p.name} ${p.hostPort}/${p.protocol}`).join(", ") },
    ]);
    this.el.append(this.title, this.summary, this.actions, h("h3", { text: "Copies" }), this.copies.el, this.detail);
  }

  open(place: Place): void {
    if (place.page !== "node") return;
    this.name = place.name;
    this.offered = "";
    this.title.textContent = `Node ${place.name}`;
    this.refresh();
    void this.load();
  }

  refresh(): void {
    const n = this.ctx.fleet().nodes.get(this.name);
    if (!n) {
      this.summary.replaceChildren(h("p", { text: `No node named ${this.name}${this.ctx.pastSeq() ? " at this event" : ""}.` }));
      this.actions.replaceChildren();
      this.copies.show([]);
      return;
    }
    const copies = copiesOn(this.ctx, n.name);
    this.summary.replaceChildren(
      pairs([
        ["Health", n.health],
        ["Scheduling", n.cordoned ? "cordoned: no new copies" : "open"],
        ["Drain", n.draining ? `draining: ${copies.length} ${copies.length === 1 ? "copy" : "copies"} still on it` : "not draining"],
        ["CPU", `${n.allocated.cpuMillis}m reserved of ${n.capacity.cpuMillis}m`],
        ["Memory", `${n.allocated.memoryMb} MB reserved of ${n.capacity.memoryMb} MB`],
        ["Labels", labelsOf(n) || "none"],
        ["Events", link(eventsHref({ node: n.name }), `events of ${n.name}`)],
      ]),
    );
    this.copies.show(copies);
    this.drawActions(n);
  }

  close(): void {}

  private drawActions(n: NodeTile): void {
    const offered = JSON.stringify([n.cordoned, n.draining, this.ctx.pastSeq()]);
    if (offered === this.offered) return;
    this.offered = offered;
    if (!this.ctx.admin || this.ctx.pastSeq() !== undefined) return this.actions.replaceChildren();
    const path = (a: string) => `/api/nodes/${encodeURIComponent(n.name)}/${a}`;
    this.actions.replaceChildren(
      n.cordoned ? actionButton("Uncordon", path("uncordon"), `Uncordon node ${n.name}?`) : actionButton("Cordon", path("cordon"), `Cordon node ${n.name}?`),
      ...(n.draining ? [] : [actionButton("Drain", path("drain"), `Drain node ${n.name}: move its copies elsewhere?`)]),
    );
  }

  private async load(): Promise<void> {
    const name = this.name;
    const d = await getJson<NodeDetail>(`/api/nodes/${encodeURIComponent(name)}`).catch((e: Error) => e);
    if (name !== this.name) return;
    if (d instanceof Error) return this.detail.replaceChildren(h("p", { text: d.message }));
    this.detail.replaceChildren(
      h("h3", { text: "Agent" }),
      pairs([
        ["Executors", d.executors.join(", ") || "none"],
        ["Version", d.version || "unknown"],
        ["Address", d.address || "none"],
      ]),
      h("h3", { text: "Host volumes" }),
      h("ul", {}, ...(d.volumes.length === 0 ? [h("li", { text: "none" })] : d.volumes.map((v) => h("li", { text: `${v.name}: ${v.path}${v.readOnly ? " (read-only)" : ""}` })))),
    );
  }
}
