/// <reference lib="dom" />
/**
 * A sortable, filterable table: a filter box (rows whose cells contain the text, any column)
 * and a button per column heading (sorts by it; again: the other way), its order told by
 * aria-sort. Only the body is redrawn when rows change, so focus stays in the filter or on a
 * heading while the fleet moves. Every row is sorted and filtered, but only the first SHOWN are
 * drawn ("Show more" draws more): 10,000 rows of cells would take the page's main thread.
 */
import { h } from "./dom.js";

/** Rows drawn at first, and added by each "Show more". */
const SHOWN = 200;

export interface Column<T> {
  title: string;
  /** What it sorts and filters by. */
  value(row: T): string | number;
  /** What the cell shows (its value by default). */
  cell?(row: T): Node | string;
}

export class Table<T> {
  readonly el: HTMLElement;
  private readonly body = h("tbody");
  private readonly filter: HTMLInputElement;
  private readonly heads: HTMLTableCellElement[] = [];
  private rows: T[] = [];
  private by = 0;
  private dir: 1 | -1 = 1;
  private limit = SHOWN;
  private readonly table: HTMLTableElement;
  private readonly more = h("p", { class: "more" });

  constructor(
    label: string,
    private readonly columns: Column<T>[],
  ) {
    this.filter = h("input", { type: "search", "aria-label": `Filter ${label}`, placeholder: "filter" });
    this.filter.oninput = () => this.draw();
    const head = h("tr");
    columns.forEach((c, i) => {
      const b = h("button", { type: "button", text: c.title });
      b.onclick = () => {
        this.dir = this.by === i ? (-this.dir as 1 | -1) : 1;
        this.by = i;
        this.draw();
      };
      const th = h("th", { scope: "col" }, b);
      this.heads.push(th);
      head.append(th);
    });
    this.table = h("table", { "aria-label": label }, h("thead", {}, head), this.body);
    this.el = h("div", { class: "table" }, h("label", { class: "filter" }, "Filter ", this.filter), this.table, this.more);
  }

  show(rows: T[]): void {
    this.rows = rows;
    this.draw();
  }

  private draw(): void {
    const col = this.columns[this.by]!;
    const needle = this.filter.value.trim().toLowerCase();
    const shown = needle === "" ? [...this.rows] : this.rows.filter((r) => this.columns.some((c) => String(c.value(r)).toLowerCase().includes(needle)));
    shown.sort((a, b) => {
      const x = col.value(a);
      const y = col.value(b);
      return this.dir * (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y)));
    });
    this.heads.forEach((th, i) => th.setAttribute("aria-sort", i === this.by ? (this.dir === 1 ? "ascending" : "descending") : "none"));
    this.body.replaceChildren(...shown.slice(0, this.limit).map((r) => h("tr", {}, ...this.columns.map((c) => h("td", {}, c.cell ? c.cell(r) : String(c.value(r)))))));
    // How many rows match (benchmarks and tests read it), and a way to the rest.
    this.table.dataset.rows = String(shown.length);
    if (shown.length <= this.limit) return this.more.replaceChildren();
    const b = h("button", { type: "button", text: "Show more" });
    b.onclick = () => {
      this.limit += SHOWN;
      this.draw();
    };
    this.more.replaceChildren(`Showing ${this.limit} of ${shown.length}. `, b);
  }
}
