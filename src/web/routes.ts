/// <reference lib="dom" />
/**
 * The console's addresses: each page has its own path (the server serves the one HTML page at
 * each, http-server.ts PAGE_PATHS), so links can be shared and a reload keeps the place. Links
 * inside the page move with the history API (back and forward work); the events page's
 * filters are in its query.
 */
export type Place =
  | { page: "overview" }
  | { page: "workloads" }
  | { page: "workload"; name: string }
  | { page: "nodes" }
  | { page: "node"; name: string }
  | { page: "events"; filter: EventFilter };

/** What the events page shows: "" matches everything. */
export interface EventFilter {
  workload: string;
  node: string;
  type: string;
}

export function placeOf(url: URL): Place | undefined {
  const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  const [first, name, ...rest] = parts;
  if (rest.length > 0) return undefined;
  if (first === undefined) return { page: "overview" };
  if (first === "workloads") return name === undefined ? { page: "workloads" } : { page: "workload", name };
  if (first === "nodes") return name === undefined ? { page: "nodes" } : { page: "node", name };
  if (first === "events" && name === undefined) {
    const q = url.searchParams;
    return { page: "events", filter: { workload: q.get("workload") ?? "", node: q.get("node") ?? "", type: q.get("type") ?? "" } };
  }
  return undefined;
}

export const workloadHref = (name: string) => `/workloads/${encodeURIComponent(name)}`;
export const nodeHref = (name: string) => `/nodes/${encodeURIComponent(name)}`;
export function eventsHref(f: Partial<EventFilter>): string {
  const q = new URLSearchParams(Object.entries(f).filter(([, v]) => v !== "" && v !== undefined) as [string, string][]);
  return q.size > 0 ? `/events?${q}` : "/events";
}

/**
 * Follows the address: `show` is called with the place now, after every in-page link followed
 * and after back or forward. A link with a modifier key (a new tab) is the browser's.
 */
export function followAddress(show: (place: Place | undefined) => void): { go(href: string, replace?: boolean): void } {
  const go = (href: string, replace = false) => {
    if (replace) history.replaceState(null, "", href);
    else history.pushState(null, "", href);
    show(placeOf(new URL(location.href)));
  };
  document.addEventListener("click", (e) => {
    const a = (e.target as HTMLElement).closest?.("a");
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || a.target !== "") return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || placeOf(url) === undefined) return;
    e.preventDefault();
    go(url.pathname + url.search);
  });
  addEventListener("popstate", () => show(placeOf(new URL(location.href))));
  return { go };
}
