/// <reference lib="dom" />
/**
 * Draws the fleet as a mosaic: a tile per node, holding a small tile per copy. Keyed DOM: each
 * node and copy keeps its element; a change marks what it names dirty and the next animation
 * frame redraws only that, a bounded number of tiles per frame (a snapshot of 10,000 copies is
 * drawn over a few frames, the page answering in between). Copy tiles are buttons with a
 * roving tabindex: Tab reaches the mosaic once, arrows move between copies, Enter picks one.
 */
import { copyLabel, type Fleet, type FleetChange, nodeLabel, STATE_LETTER } from "../core/views/fleet-view.js";

/** Tiles drawn per animation frame. */
const BATCH = 2_000;
/** The group of copies not placed on a node. */
const UNPLACED = "";
const KEYS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"]);
/**
 * The page's one performance mark, made again (the last one cleared) whenever the mosaic has
 * drawn all it was told of: its detail says as of which event and how many tiles. Benchmarks
 * and tests wait on it.
 */
export const DRAWN_MARK = "tessera:drawn";

interface NodeView {
  el: HTMLElement;
  title: HTMLElement;
  flags: HTMLElement;
  labels: HTMLElement;
  use: HTMLElement;
  /** What its copies use, from the usage board (`setUsage`). */
  usage: HTMLElement;
  actions: HTMLElement;
  copies: HTMLElement;
  /** Its accessible name as last drawn: it names everything the tile shows. */
  label: string;
}

export interface MosaicOptions {
  admin: boolean;
  select(copyId: string): void;
  nodeAction(node: string, action: "cordon" | "uncordon" | "drain"): void;
}

export class Mosaic {
  private readonly nodes = new Map<string, NodeView>();
  private readonly copies = new Map<string, HTMLButtonElement>();
  private readonly dirtyNodes = new Set<string>();
  private readonly dirtyCopies = new Set<string>();
  private frame = 0;
  private picked = "";
  private selected = "";
  /** The copy tile Tab lands on. */
  private active = "";

  constructor(
    private readonly root: HTMLElement,
    private readonly fleet: () => Fleet,
    private readonly opts: MosaicOptions,
  ) {
    root.addEventListener("click", (e) => {
      const target = e.target as HTMLElement;
      const copy = target.closest<HTMLElement>(".copy");
      if (copy) return this.pick(copy.dataset.id!);
      const action = target.closest<HTMLButtonElement>("button[data-action]");
      if (action) opts.nodeAction(action.dataset.node!, action.dataset.action as "cordon" | "uncordon" | "drain");
    });
    root.addEventListener("keydown", (e) => this.move(e));
  }

  /** Everything again (a snapshot). */
  reset(): void {
    const f = this.fleet();
    for (const name of this.nodes.keys()) this.dirtyNodes.add(name);
    for (const id of this.copies.keys()) this.dirtyCopies.add(id);
    for (const name of f.nodes.keys()) this.dirtyNodes.add(name);
    for (const id of f.copies.keys()) this.dirtyCopies.add(id);
    this.schedule();
  }

  /** What a change named, once folded into the fleet. */
  touch(c: FleetChange): void {
    for (const n of c.nodes) this.dirtyNodes.add(n.name);
    for (const n of c.goneNodes) this.dirtyNodes.add(n);
    for (const x of c.copies) this.dirtyCopies.add(x.id);
    for (const id of c.goneCopies) this.dirtyCopies.add(id);
    this.schedule();
  }

  /** What each node's copies use, as their agents last sampled it; a node not named shows nothing. */
  setUsage(nodes: Record<string, { cpuMillis: number; memoryBytes: number }>): void {
    for (const [name, v] of this.nodes) {
      const u = nodes[name];
      v.usage.textContent = u ? `using ${u.cpuMillis}m CPU, ${Math.round(u.memoryBytes / 1048576)} MiB` : "";
    }
  }

  /** Lights up a workload's copies ("" for none). */
  setPicked(workload: string): void {
    this.picked = workload;
    this.root.classList.toggle("picking", workload !== "");
    for (const el of this.copies.values()) el.classList.toggle("lit", el.dataset.workload === workload);
  }

  private pick(id: string): void {
    this.copies.get(this.selected)?.setAttribute("aria-pressed", "false");
    this.selected = id;
    this.copies.get(id)?.setAttribute("aria-pressed", "true");
    this.setActive(id);
    this.opts.select(id);
  }

  private setActive(id: string): void {
    const before = this.copies.get(this.active);
    if (before) before.tabIndex = -1;
    this.active = id;
    const now = this.copies.get(id);
    if (now) now.tabIndex = 0;
  }

  /**
   * Arrows: previous or next copy (left, right), first copy of the previous or next node holding
   * any (up, down); Home, End. The DOM's own sibling links are the index: a step visits the
   * copy's neighbours, and only nodes holding nothing in between, never every tile.
   */
  private move(e: KeyboardEvent): void {
    const at = (e.target as HTMLElement).closest<HTMLElement>(".copy");
    if (!at || !KEYS.has(e.key)) return;
    e.preventDefault();
    const node = at.closest<HTMLElement>(".node")!;
    let to: Element | null | undefined;
    if (e.key === "ArrowLeft") to = at.previousElementSibling ?? this.edge(node.previousElementSibling, -1, "last");
    else if (e.key === "ArrowRight") to = at.nextElementSibling ?? this.edge(node.nextElementSibling, 1, "first");
    else if (e.key === "ArrowUp") to = this.edge(node.previousElementSibling, -1, "first");
    else if (e.key === "ArrowDown") to = this.edge(node.nextElementSibling, 1, "first");
    else if (e.key === "Home") to = this.edge(this.root.firstElementChild, 1, "first");
    else to = this.edge(this.root.lastElementChild, -1, "last");
    if (!(to instanceof HTMLElement)) return;
    this.setActive(to.dataset.id!);
    to.focus();
  }

  /** The first or last copy of `from`, or of the nearest node holding any past it in direction `step`. */
  private edge(from: Element | null, step: 1 | -1, which: "first" | "last"): Element | undefined {
    for (let n = from; n; n = step === 1 ? n.nextElementSibling : n.previousElementSibling) {
      const copies = this.nodes.get((n as HTMLElement).dataset.node!)?.copies;
      const c = which === "first" ? copies?.firstElementChild : copies?.lastElementChild;
      if (c) return c;
    }
    return undefined;
  }

  private schedule(): void {
    if (this.frame === 0) this.frame = requestAnimationFrame(() => this.draw());
  }

  private draw(): void {
    this.frame = 0;
    let budget = BATCH;
    for (const id of this.dirtyCopies) {
      if (budget-- === 0) break;
      this.dirtyCopies.delete(id);
      this.drawCopy(id);
    }
    for (const name of this.dirtyNodes) {
      if (budget-- <= 0) break;
      this.dirtyNodes.delete(name);
      this.drawNode(name);
    }
    if (this.dirtyCopies.size > 0 || this.dirtyNodes.size > 0) return this.schedule();
    performance.clearMarks(DRAWN_MARK);
    performance.mark(DRAWN_MARK, { detail: { seq: this.fleet().seq, copies: this.copies.size, nodes: this.nodes.size } });
  }

  private drawCopy(id: string): void {
    const c = this.fleet().copies.get(id);
    let el = this.copies.get(id);
    if (!c) {
      if (!el) return;
      this.dirtyNodes.add(el.dataset.node!);
      el.remove();
      this.copies.delete(id);
      if (this.active === id) this.active = "";
      return;
    }
    if (!el) {
      el = document.createElement("button");
      el.className = "copy";
      el.dataset.id = id;
      el.dataset.name = c.name;
      el.dataset.workload = c.workload;
      el.tabIndex = -1;
      el.setAttribute("aria-pressed", String(id === this.selected));
      el.classList.toggle("lit", c.workload === this.picked);
      this.copies.set(id, el);
      if (this.active === "") this.setActive(id);
    }
    const node = c.node ?? UNPLACED;
    if (el.dataset.node !== node || !el.isConnected) {
      if (el.dataset.node !== undefined) this.dirtyNodes.add(el.dataset.node);
      el.dataset.node = node;
      this.viewOf(node).copies.append(el);
      this.dirtyNodes.add(node);
    }
    el.dataset.state = c.state;
    el.dataset.ready = String(c.ready);
    el.dataset.desired = c.desired;
    el.textContent = STATE_LETTER[c.state];
    const label = copyLabel(c);
    el.setAttribute("aria-label", label);
    el.title = label;
  }

  private drawNode(name: string): void {
    const n = this.fleet().nodes.get(name);
    const view = this.nodes.get(name);
    if (!view) {
      if (n) this.viewOf(name);
      else return;
    }
    const v = this.nodes.get(name)!;
    const count = v.copies.childElementCount;
    if (!n) {
      // A node that is gone (or the unplaced group) goes when it holds nothing.
      if (count === 0) {
        v.el.remove();
        this.nodes.delete(name);
      }
      return;
    }
    // A node tile is sent again whenever one of its copies changes; most of the time it reads the same.
    const label = nodeLabel(n, count);
    if (v.label === label) return;
    v.label = label;
    v.el.dataset.health = n.health;
    v.el.dataset.cordoned = String(n.cordoned);
    v.el.dataset.draining = String(n.draining);
    v.el.setAttribute("aria-label", label);
    v.flags.textContent = [n.health[0]!.toUpperCase() + n.health.slice(1), n.cordoned ? "cordoned" : "", n.draining ? "draining" : ""].filter(Boolean).join(" · ");
    v.labels.textContent = Object.entries(n.labels ?? {}).map(([k, val]) => `${k}=${val}`).join(" ");
    v.labels.title = v.labels.textContent;
    const used = n.capacity.cpuMillis > 0 ? Math.min(100, (100 * n.allocated.cpuMillis) / n.capacity.cpuMillis) : 0;
    (v.use.firstElementChild as HTMLElement).style.width = `${used}%`;
    v.use.title = `${n.allocated.cpuMillis}m of ${n.capacity.cpuMillis}m CPU, ${n.allocated.memoryMb} of ${n.capacity.memoryMb} MB`;
    const offered = `${n.cordoned} ${n.draining}`;
    if (this.opts.admin && v.actions.dataset.offered !== offered) {
      v.actions.dataset.offered = offered;
      v.actions.replaceChildren(
        this.actionButton(name, n.cordoned ? "uncordon" : "cordon"),
        ...(n.draining ? [] : [this.actionButton(name, "drain")]),
      );
    }
  }

  private actionButton(node: string, action: "cordon" | "uncordon" | "drain"): HTMLButtonElement {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.node = node;
    b.dataset.action = action;
    b.textContent = action;
    b.setAttribute("aria-label", `${action} ${node}`);
    return b;
  }

  /** A node's tile, made the first time it is needed; nodes keep the order they first came in, the unplaced group first. */
  private viewOf(name: string): NodeView {
    const have = this.nodes.get(name);
    if (have) return have;
    const el = document.createElement("section");
    el.className = "node";
    el.dataset.node = name;
    el.setAttribute("role", "group");
    const title = document.createElement("h3");
    if (name === UNPLACED) title.textContent = "Not placed";
    else {
      const a = document.createElement("a");
      a.href = `/nodes/${encodeURIComponent(name)}`;
      a.textContent = name;
      title.append(a);
    }
    const flags = document.createElement("div");
    flags.className = "flags";
    const labels = document.createElement("div");
    labels.className = "labels";
    const use = document.createElement("div");
    use.className = "use";
    use.append(document.createElement("div"));
    // Copies not placed reserve no node: no capacity to show.
    use.hidden = name === UNPLACED;
    const usage = document.createElement("div");
    usage.className = "usage";
    const actions = document.createElement("div");
    actions.className = "actions";
    const copies = document.createElement("div");
    copies.className = "copies";
    el.append(title, flags, labels, use, usage, actions, copies);
    if (name === UNPLACED) {
      el.setAttribute("aria-label", "Copies not placed on a node");
      this.root.prepend(el);
    } else this.root.append(el);
    const view = { el, title, flags, labels, use, usage, actions, copies, label: "" };
    this.nodes.set(name, view);
    return view;
  }
}
