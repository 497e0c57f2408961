/**
 * Records kept for as long as the state lives (a workload's spec, a copy's lists) hold one
 * frozen empty array and one frozen empty object wherever they hold nothing, instead of a fresh
 * one each: a decoded spec has nine empty fields, and at 100,000 workloads these were two fifths
 * of every object on the heap, each one more for the garbage collector to visit. Frozen, so a
 * write to one throws (modules are strict) instead of reaching every record. PURE.
 */

const EMPTY_LIST: never[] = Object.freeze([]) as unknown as never[];
const EMPTY_RECORD: Record<string, never> = Object.freeze({});

/** The shared empty list, for a record's list that starts empty. */
export function noneYet<T>(): T[] {
  return EMPTY_LIST;
}

/**
 * `value` with its empty arrays and empty plain objects, at any depth, replaced by the shared
 * ones; copied only where something changed, so what holds no empty container is returned as is.
 */
export function sharingEmpties<T>(value: T): T {
  if (Array.isArray(value)) {
    if (value.length === 0) return EMPTY_LIST as T;
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const shared = sharingEmpties(value[i]);
      if (shared !== value[i]) (out ??= value.slice())[i] = shared;
    }
    return (out ?? value) as T;
  }
  if (value === null || typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype) return value;
  const record = value as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  let empty = true;
  for (const key in record) {
    empty = false;
    const shared = sharingEmpties(record[key]);
    if (shared !== record[key]) (out ??= { ...record })[key] = shared;
  }
  return (empty ? EMPTY_RECORD : (out ?? value)) as T;
}
