/// <reference lib="dom" />
/**
 * The side panel of the copy picked: its workload, generation, node, ports, failure reason and
 * what it uses (GET /api/usage, its agent's last sample);
 * the workload's recent events that concern it (GET /api/history); its last log lines, then
 * what it prints (an EventSource on /api/logs), or, pressed "Previous copy", its replica's last
 * ended copy's output (`ctl logs --previous`). An admin also gets the workload's actions.
 */
import { copyLabel, type Fleet } from "../core/views/fleet-view.js";

/** Log lines kept on the page. */
const MAX_LINES = 500;
/** Events shown. */
const RECENT = 15;

export type WorkloadAction = "restart" | "undo" | "delete";

interface HistoryEvent {
  sequence: number;
  at: string;
  instance: string;
  summary: string;
}

export class Panel {
  private id = "";
  private logs: EventSource | undefined;
  private readonly details = document.createElement("div");
  private readonly events = document.createElement("ol");
  private readonly output = document.createElement("pre");
  /** Pressed: the log shown is the replica's last ended copy's, not this copy's. */
  private readonly previous = document.createElement("button");
  /** Bumped at each history request: an answer to an older one is dropped. */
  private asked = 0;

  constructor(
    private readonly el: HTMLElement,
    private readonly fleet: () => Fleet,
    private readonly opts: { admin: boolean; workloadAction(workload: string, action: WorkloadAction): void },
  ) {
    const eventsTitle = document.createElement("h3");
    eventsTitle.textContent = "Recent events";
    const logsTitle = document.createElement("h3");
    logsTitle.textContent = "Log";
    this.output.setAttribute("aria-label", "Log lines");
    this.output.setAttribute("aria-live", "off");
    this.previous.type = "button";
    this.previous.textContent = "Previous copy's output";
    this.previous.setAttribute("aria-pressed", "false");
    this.previous.onclick = () => {
      this.previous.setAttribute("aria-pressed", String(this.previous.getAttribute("aria-pressed") !== "true"));
      this.openLog();
    };
    el.append(this.details, eventsTitle, this.events, logsTitle, this.previous, this.output);
    el.addEventListener("click", (e) => {
      const b = (e.target as HTMLElement).closest<HTMLButtonElement>("button[data-action]");
      if (b) this.opts.workloadAction(b.dataset.workload!, b.dataset.action as WorkloadAction);
    });
  }

  /** Stops following the copy's log. */
  close(): void {
    this.logs?.close();
    this.id = "";
    this.el.hidden = true;
  }

  get selected(): string {
    return this.id;
  }

  show(id: string): void {
    this.id = id;
    this.el.hidden = false;
    this.previous.setAttribute("aria-pressed", "false");
    this.openLog();
    this.refresh();
  }

  /** Reads the copy's log and follows it, or its replica's last ended copy's output. */
  private openLog(): void {
    this.output.textContent = "";
    this.logs?.close();
    const previous = this.previous.getAttribute("aria-pressed") === "true";
    this.logs = new EventSource(`/api/logs?copy=${encodeURIComponent(this.id)}${previous ? "&previous=1" : ""}`);
    this.logs.addEventListener("lines", (e) => this.append(JSON.parse((e as MessageEvent<string>).data) as string[]));
    this.logs.addEventListener("end", (e) => {
      this.append([`— ${(JSON.parse((e as MessageEvent<string>).data) as { reason: string }).reason}`]);
      this.logs?.close();
    });
    // A log stream is not resumed (it would repeat its tail): picking the copy again reopens it.
    this.logs.onerror = () => this.logs?.close();
  }

  /** Redraws the details and reloads the events (the copy changed, or the fleet was reloaded). */
  refresh(): void {
    if (this.id === "") return;
    const c = this.fleet().copies.get(this.id);
    if (!c) {
      this.details.replaceChildren(heading(`${this.id}: gone`));
      return;
    }
    const ports = c.ports.map((p) => `${p.name} ${p.hostPort}/${p.protocol}`).join(", ") || "none";
    const rows: Array<[string, string]> = [
      ["Workload", c.workload],
      ["Generation", String(c.generation)],
      ["State", `${c.state}${c.ready ? " (Ready)" : ""}, wanted ${c.desired === "run" ? "running" : "stopped"}`],
      ["Node", c.node ?? "not placed"],
      ["Ports", ports],
      ["Reason", c.reason || "—"],
      ["Id", c.id],
    ];
    const dl = document.createElement("dl");
    for (const [k, v] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v;
      dl.append(dt, dd);
    }
    const parts: Node[] = [heading(copyLabel(c)), dl];
    if (this.opts.admin) {
      const actions = document.createElement("div");
      actions.className = "actions";
      for (const [action, text] of [["restart", "Rollout restart"], ["undo", "Rollout undo"], ["delete", "Delete workload"]] as const) {
        const b = document.createElement("button");
        b.type = "button";
        b.dataset.action = action;
        b.dataset.workload = c.workload;
        b.textContent = `${text} ${c.workload}`;
        actions.append(b);
      }
      parts.push(actions);
    }
    this.details.replaceChildren(...parts);
    void this.loadUsage(c.id, dl);
    void this.loadEvents(c.workload, c.id);
  }

  /** Adds what the copy uses to its details, once its agent's last sample is read. */
  private async loadUsage(id: string, dl: HTMLElement): Promise<void> {
    const res = await fetch(`/api/usage?copy=${encodeURIComponent(id)}`);
    if (!res.ok || this.id !== id || !dl.isConnected) return;
    const { usage } = (await res.json()) as { usage: { cpuMillis: number; memoryBytes: number; sampledAt: string } | null };
    const dt = document.createElement("dt");
    dt.textContent = "Usage";
    const dd = document.createElement("dd");
    dd.textContent = usage
      ? `cpu ${usage.cpuMillis}m, memory ${Math.round(usage.memoryBytes / (1024 * 1024))} MiB (sampled ${new Date(usage.sampledAt).toLocaleTimeString()})`
      : "unknown (no sample heard)";
    dl.append(dt, dd);
  }

  private async loadEvents(workload: string, id: string): Promise<void> {
    const asked = ++this.asked;
    const res = await fetch(`/api/history?workload=${encodeURIComponent(workload)}&limit=200`);
    if (asked !== this.asked) return;
    if (!res.ok) {
      this.events.replaceChildren(item(`history: ${((await res.json()) as { error: string }).error}`));
      return;
    }
    const { events } = (await res.json()) as { events: HistoryEvent[] };
    const mine = events.filter((e) => e.instance === id || e.instance === "").slice(-RECENT);
    this.events.replaceChildren(...mine.map((e) => item(`#${e.sequence} ${new Date(e.at).toLocaleTimeString()} ${e.summary}`)));
  }

  private append(lines: string[]): void {
    const text = this.output.textContent + lines.map((l) => `${l}\n`).join("");
    const kept = text.split("\n");
    this.output.textContent = kept.length > MAX_LINES + 1 ? kept.slice(-MAX_LINES - 1).join("\n") : text;
    this.output.scrollTop = this.output.scrollHeight;
  }
}

function heading(text: string): HTMLElement {
  const h = document.createElement("h2");
  h.textContent = text;
  return h;
}

function item(text: string): HTMLElement {
  const li = document.createElement("li");
  li.textContent = text;
  return li;
}
