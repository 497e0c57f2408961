/**
 * Paging of list answers (AIP-158). PURE. A page holds at most `page_size` items and stops
 * early once its items reach PAGE_BYTES encoded, so an answer stays well under the message
 * limit whatever the items weigh. The token names the last item returned (its sort key), not a
 * position: items added or removed between pages are neither skipped nor repeated.
 */
import { invalidArgument, type Rejection } from "../model/rejections.js";

export const DEFAULT_PAGE_SIZE = 500;
export const MAX_PAGE_SIZE = 1000;
/** Largest gRPC message either side accepts (requests and answers). */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/**
 * Items per page stop once they reach this many bytes: half the message limit. One item is
 * always returned, and an accepted item is far smaller than the other half (a spec is at most
 * 256 KiB as JSON; a history event holds two).
 */
export const PAGE_BYTES = MAX_MESSAGE_BYTES / 2;

/** Where an item sorts: compared element by element, strings by code unit. */
export type SortKey = ReadonlyArray<string | number>;

export function compareKeys(a: SortKey, b: SortKey): number {
  for (let n = 0; n < Math.min(a.length, b.length); n++) {
    const x = a[n]!;
    const y = b[n]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** The page-related fields every list request carries. */
export interface PageRequest {
  pageSize: number;
  pageToken: string;
}

/** Where a page starts: after this key (none for the first page), with `returned` items before it. */
export interface Cursor {
  /** How many items the pages before this one returned (bounds GetHistory's limit). */
  returned: number;
  after?: SortKey;
  /** Items this page may hold. */
  size: number;
}

interface Token {
  /** The method and the request fields that must not change between pages. */
  s: string;
  k: SortKey;
  n: number;
}

function encodeToken(t: Token): string {
  const bytes = new TextEncoder().encode(JSON.stringify(t));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeToken(token: string): Token | undefined {
  try {
    const binary = atob(token.replace(/-/g, "+").replace(/_/g, "/"));
    const t = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)))) as Partial<Token>;
    const keyOk = Array.isArray(t.k) && t.k.length > 0 && t.k.every((x) => typeof x === "string" || typeof x === "number");
    if (typeof t.s !== "string" || !keyOk || !Number.isSafeInteger(t.n) || t.n! < 1) return undefined;
    return t as Token;
  } catch {
    return undefined;
  }
}

/**
 * Reads a request's page fields. `scope` names the method and the request fields a token is
 * bound to (e.g. `instances:web`): a token from another method or request is refused.
 */
export function readCursor(req: PageRequest, scope: string): Cursor | Rejection {
  if (!Number.isInteger(req.pageSize) || req.pageSize < 0) return invalidArgument("page_size", `0 (the default, ${DEFAULT_PAGE_SIZE}) or a positive number of items, got ${req.pageSize}`);
  const size = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(req.pageSize, MAX_PAGE_SIZE);
  if (req.pageToken === "") return { returned: 0, size };
  const t = decodeToken(req.pageToken);
  if (!t || t.s !== scope) return invalidArgument("page_token", "the next_page_token of an earlier answer to the same request (or empty for the first page)");
  return { returned: t.n, after: t.k, size };
}

export function isRejection<T extends object>(x: T | Rejection): x is Rejection {
  return "kind" in x;
}

/** One page of items and the token of the next ("" when this is the last). */
export interface Page<W> {
  items: W[];
  nextPageToken: string;
}

/**
 * Fills a page from `records` (any order; only those after the cursor are taken), rendering
 * each taken record to its wire form and weighing it with `sizeOf`. `more` says whether there
 * are records beyond `records` (a query that fetched only a page's worth).
 */
export function takePage<R, W>(
  records: Iterable<R>,
  cursor: Cursor,
  scope: string,
  opts: { keyOf: (r: R) => SortKey; render: (r: R) => W; sizeOf: (w: W) => number; more?: boolean },
): Page<W> {
  const after = cursor.after;
  const candidates = [...records].filter((r) => after === undefined || compareKeys(opts.keyOf(r), after) > 0);
  candidates.sort((a, b) => compareKeys(opts.keyOf(a), opts.keyOf(b)));
  const items: W[] = [];
  let bytes = 0;
  for (const r of candidates) {
    if (items.length >= cursor.size) break;
    const w = opts.render(r);
    const size = opts.sizeOf(w);
    if (items.length > 0 && bytes + size > PAGE_BYTES) break;
    items.push(w);
    bytes += size;
  }
  const last = candidates[items.length - 1];
  const more = items.length < candidates.length || (opts.more ?? false);
  return { items, nextPageToken: more && last !== undefined ? encodeToken({ s: scope, k: opts.keyOf(last), n: cursor.returned + items.length }) : "" };
}

/** The newest of `items` (oldest first) that fit in PAGE_BYTES together; at least the newest one. */
export function newestWithin<W>(items: W[], sizeOf: (w: W) => number): W[] {
  let bytes = 0;
  let from = items.length;
  while (from > 0) {
    bytes += sizeOf(items[from - 1]!);
    if (from < items.length && bytes > PAGE_BYTES) break;
    from--;
  }
  return items.slice(from);
}
