/// <reference lib="dom" />
/**
 * The events page: the fleet's event log, followed live (what came after the last event read,
 * each time the fleet moves on), filterable by workload, node and type (kept in the address),
 * each event linking to its subjects. Under the time slider it shows the log up to that event.
 */
import { getJson, h, link } from "./dom.js";
import type { PageContext, PageView } from "./page.js";
import { type EventFilter, eventsHref, nodeHref, type Place, workloadHref } from "./routes.js";

/** Events kept on the page. */
const KEPT = 1_000;
/** Events read at a time. */
const READ = 200;

interface WireEvent {
  sequence: number;
  at: string;
  type: string;
  workload: string;
  instance: string;
  node: string;
  summary: string;
}

export class EventsPage implements PageView {
  readonly el = h("section", { "aria-labelledby": "events-title" }, h("h2", { id: "events-title", tabindex: "-1", text: "Events" }));
  private readonly inputs: Record<keyof EventFilter, HTMLInputElement>;
  private readonly list = h("ol", { class: "timeline", "aria-label": "Events, oldest first" });
  private events: WireEvent[] = [];
  /** The newest event read, and what the list was read for ("live", or the slider's event). */
  private last = 0;
  private readFor = "";
  private reading = false;

  constructor(private readonly ctx: PageContext) {
    const input = (key: keyof EventFilter, text: string) => {
      const el = h("input", { type: "search", name: key });
      el.oninput = () => {
        history.replaceState(null, "", eventsHref(this.filter()));
        this.draw();
      };
      return [el, h("label", {}, `${text} `, el)] as const;
    };
    const [workload, wl] = input("workload", "Workload");
    const [node, nl] = input("node", "Node");
    const [type, tl] = input("type", "Type");
    this.inputs = { workload, node, type };
    this.el.append(h("form", { class: "filters", role: "search", "aria-label": "Filter events" }, wl, nl, tl), this.list);
  }

  open(place: Place): void {
    if (place.page !== "events") return;
    for (const k of ["workload", "node", "type"] as const) this.inputs[k].value = place.filter[k];
    this.refresh();
  }

  refresh(): void {
    void this.read();
  }

  close(): void {}

  private filter(): EventFilter {
    return { workload: this.inputs.workload.value.trim(), node: this.inputs.node.value.trim(), type: this.inputs.type.value.trim() };
  }

  /** Reads what is new (live), or the log up to the slider's event (past); one read at a time. */
  private async read(): Promise<void> {
    const past = this.ctx.pastSeq();
    const readFor = past === undefined ? "live" : String(past);
    if (this.reading || (readFor === this.readFor && (past !== undefined || this.ctx.fleet().seq <= this.last))) return;
    this.reading = true;
    try {
      if (readFor !== this.readFor) [this.events, this.last] = [[], past === undefined ? -1 : Math.max(0, past - READ)];
      const query = this.last < 0 ? `limit=${READ}` : `after=${this.last}&limit=${READ}`;
      const { events } = await getJson<{ events: WireEvent[] }>(`/api/log?${query}`);
      const kept = past === undefined ? events : events.filter((e) => e.sequence <= past);
      this.events = [...this.events, ...kept].slice(-KEPT);
      this.last = events.at(-1)?.sequence ?? Math.max(this.last, 0);
      this.readFor = readFor;
      this.draw();
    } catch (e) {
      this.list.replaceChildren(h("li", { role: "alert", text: (e as Error).message }));
    } finally {
      this.reading = false;
    }
  }

  private draw(): void {
    const f = this.filter();
    const shown = this.events.filter((e) => (f.workload === "" || e.workload === f.workload) && (f.node === "" || e.node === f.node) && (f.type === "" || e.type.toLowerCase().includes(f.type.toLowerCase())));
    this.list.replaceChildren(
      ...shown.map((e) => {
        const subjects = [...(e.workload ? [link(workloadHref(e.workload), e.workload)] : []), ...(e.node ? [link(nodeHref(e.node), e.node)] : [])];
        return h("li", { "data-seq": String(e.sequence) }, `#${e.sequence} ${new Date(e.at).toLocaleTimeString()} `, h("strong", { text: e.type }), ` ${e.summary} `, ...subjects.flatMap((s) => [s, " "]));
      }),
    );
    if (shown.length === 0) this.list.append(h("li", { text: "no events match" }));
  }
}
