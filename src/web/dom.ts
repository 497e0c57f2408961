/// <reference lib="dom" />
/** Small DOM helpers the console's pages share, and its one way to change something (asked, then POSTed). */

type Child = Node | string;

/** An element with attributes (`text` sets its text) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") el.textContent = v;
    else el.setAttribute(k, v);
  }
  el.append(...children);
  return el;
}

export const link = (href: string, text: string) => h("a", { href, text });

/** A description list of label and value pairs. */
export function pairs(rows: Array<[string, Child]>): HTMLDListElement {
  return h("dl", { class: "pairs" }, ...rows.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", {}, v)]));
}

/** A button that, once confirmed, POSTs to `path` (a JSON body: the control plane takes no other for a change); a refusal is shown as the server words it. */
export function actionButton(text: string, path: string, question: string | (() => string), body: () => object = () => ({})): HTMLButtonElement {
  const b = h("button", { type: "button", class: "action", text });
  b.dataset.action = path.slice(path.lastIndexOf("/") + 1);
  b.onclick = () => void act(path, typeof question === "string" ? question : question(), body());
  return b;
}

export async function act(path: string, question: string, body: object = {}): Promise<void> {
  if (!confirm(question)) return;
  const res = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!res.ok) alert(((await res.json()) as { error: string }).error);
}

/** GET as JSON; a refusal throws with the server's words. */
export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path);
  if (!res.ok) throw new Error(((await res.json().catch(() => ({ error: res.statusText }))) as { error: string }).error);
  return (await res.json()) as T;
}

/** "3m", "2h", "5d": how long ago, as `ctl get` shows AGE. */
export function age(since: number, now = Date.now()): string {
  const s = Math.max(0, Math.floor((now - since) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}
