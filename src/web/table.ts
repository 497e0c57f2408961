/// <reference lib="dom" />
/**
 * A sortable, filterable table: a filter box (rows whose cells contain the text, any column)
 * and a button per column heading (sorts by it; again: the other way), its order told by
 * aria-sort. Only the body is redrawn when rows change, so focus stays in the filter or on a
 * heading while the fleet moves.
 */
import { h } from "./dom.js";

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
    this.el = h("div", { class: "table" }, h("label", { class: "filter" }, "Filter ", this.filter), h("table", { "aria-label": label }, h("thead", {}, head), this.body));
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
    this.body.replaceChildren(...shown.map((r) => h("tr", {}, ...this.columns.map((c) => h("td", {}, c.cell ? c.cell(r) : String(c.value(r)))))));
  }
}
