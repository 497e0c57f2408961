/// <reference lib="dom" />
/**
 * The mosaic page's entry: signs in (a `?token=` in the address, or the form), then follows the
 * fleet over one EventSource on /api/events (a snapshot, then changes; after a control-plane
 * restart the browser reconnects by itself and a new snapshot replaces what the page held).
 * The time slider shows the fleet as it was at an earlier event (/api/at rebuilds it from the
 * log); live changes keep being folded in meanwhile, and "Back to live" shows them again.
 * Mutations ask for confirmation, then POST; only an admin is offered them. Signing out ends the
 * session on the control plane (the cookie holds only its id).
 */
import { applyChange, type Fleet, type FleetChange, type FleetSnapshot, fleetOf } from "../core/views/fleet-view.js";
import { Mosaic } from "./mosaic.js";
import { Panel, type WorkloadAction } from "./panel.js";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
/** How soon a stream the browser gave up on (it answered an error status) is tried again. */
const RETRY_MS = 1_000;
/** The slider asks for the past once it rests this long. */
const SCRUB_MS = 150;

type Role = "admin" | "readonly";
/** Without tokens (--insecure) every caller reads, signed in to nothing. */
type Session = { role: Role; signedIn: boolean };

async function signIn(token: string): Promise<string | undefined> {
  const res = await fetch("/api/session", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token }) });
  return res.ok ? undefined : ((await res.json()) as { error: string }).error;
}

/** The cookie's role and whether it is a session to sign out of; undefined when signed out. Throws when the control plane cannot say (a start, a standby: 503): ask again. */
async function session(): Promise<Session | undefined> {
  const res = await fetch("/api/session");
  if (res.ok) return (await res.json()) as Session;
  if (res.status === 401 || res.status === 403) return undefined;
  throw new Error(`the control plane answered ${res.status}`);
}

function showSignIn(error = ""): void {
  $("app").hidden = true;
  $("picker").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = error;
  $("status").textContent = "signed out";
  $("status").dataset.live = "false";
  $<HTMLInputElement>("token").focus();
}

/** Asks, then POSTs (a JSON body: the control plane takes no other for a change); a refusal is shown as the server words it. */
async function act(path: string, question: string): Promise<void> {
  if (!confirm(question)) return;
  const res = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  if (!res.ok) alert(((await res.json()) as { error: string }).error);
}

/** Ends the session on the control plane, then reloads: the page starts over at the sign-in form. */
async function signOut(): Promise<void> {
  await fetch("/api/session", { method: "DELETE", headers: { "content-type": "application/json" }, body: "{}" });
  location.reload();
}

function follow({ role, signedIn }: Session): void {
  $("signin").hidden = true;
  $("app").hidden = false;
  $("picker").hidden = false;
  $("signout").hidden = !signedIn;
  $("signout").onclick = () => void signOut();
  const admin = role === "admin";
  let fleet: Fleet = fleetOf({ seq: 0, nodes: [], copies: [], workloads: [] });
  /** The fleet at an earlier event, while the slider shows one. */
  let past: Fleet | undefined;
  const current = () => past ?? fleet;
  const panel = new Panel($("panel"), current, {
    admin,
    workloadAction: (workload, action: WorkloadAction) =>
      void act(`/api/workloads/${encodeURIComponent(workload)}/${action}`, action === "delete" ? `Delete workload ${workload} and stop all its copies?` : `Rollout ${action} ${workload}?`),
  });
  const mosaic = new Mosaic($("mosaic"), current, {
    admin,
    select: (id) => panel.show(id),
    nodeAction: (node, action) => void act(`/api/nodes/${encodeURIComponent(node)}/${action}`, `${action[0]!.toUpperCase()}${action.slice(1)} node ${node}?`),
  });
  const picker = $<HTMLSelectElement>("workload");
  picker.onchange = () => {
    mosaic.setPicked(picker.value);
    showProgress();
  };
  const showProgress = () => {
    const w = current().workloads.get(picker.value);
    $("progress").textContent = w ? `${w.name}: ${w.ready} of ${w.desired} Ready, generation ${w.generation}${w.deleting ? ", deleting" : ""}` : "";
  };
  /** The workloads the picker lists: a change naming only these leaves the list as it is. */
  let listed = new Set<string>();
  const showWorkloads = () => {
    const names = [...current().workloads.keys()].sort();
    const have = [...picker.options].slice(1).map((o) => o.value);
    listed = new Set(names);
    if (names.join("\n") !== have.join("\n")) {
      const keep = picker.value;
      picker.replaceChildren(new Option("(none)", ""), ...names.map((n) => new Option(n, n)));
      picker.value = names.includes(keep) ? keep : "";
      if (picker.value !== keep) mosaic.setPicked("");
    }
    showProgress();
  };
  const live = (text: string, on: boolean) => {
    $("status").textContent = text;
    $("status").dataset.live = String(on);
  };
  const slider = $<HTMLInputElement>("seq");
  const showing = () => {
    $("time").hidden = false;
    slider.max = String(fleet.seq);
    if (past === undefined) slider.value = slider.max;
    $("live").hidden = past === undefined;
    live(past === undefined ? `live · #${fleet.seq}` : `past · #${past.seq}`, past === undefined);
  };
  const redraw = () => {
    mosaic.reset();
    showWorkloads();
    panel.refresh();
    showing();
  };
  const goLive = () => {
    past = undefined;
    redraw();
  };
  let scrub: ReturnType<typeof setTimeout> | undefined;
  slider.oninput = () => {
    clearTimeout(scrub);
    scrub = setTimeout(async () => {
      const seq = Number(slider.value);
      if (seq >= fleet.seq) return goLive();
      const res = await fetch(`/api/at?seq=${seq}`);
      if (!res.ok) return alert(((await res.json()) as { error: string }).error);
      if (Number(slider.value) !== seq) return;
      past = fleetOf((await res.json()) as FleetSnapshot);
      redraw();
    }, SCRUB_MS);
  };
  $("live").onclick = goLive;

  /** What changes asked of the header and panel, done once per animation frame however many arrive (a burst). */
  const header = { frame: 0, relist: false, panel: false };
  const showHeader = () => {
    showing();
    if (past === undefined) {
      if (header.relist) showWorkloads();
      else showProgress();
      if (header.panel) panel.refresh();
    }
    Object.assign(header, { frame: 0, relist: false, panel: false });
  };
  const connect = () => {
    const events = new EventSource("/api/events");
    events.addEventListener("snapshot", (e) => {
      fleet = fleetOf(JSON.parse((e as MessageEvent<string>).data) as FleetSnapshot);
      redraw();
    });
    events.addEventListener("change", (e) => {
      const c = JSON.parse((e as MessageEvent<string>).data) as FleetChange;
      applyChange(fleet, c);
      header.relist ||= c.goneWorkloads.length > 0 || c.workloads.some((w) => !listed.has(w.name));
      header.panel ||= c.copies.some((x) => x.id === panel.selected) || c.goneCopies.includes(panel.selected);
      if (past === undefined) mosaic.touch(c);
      if (header.frame === 0) header.frame = requestAnimationFrame(showHeader);
    });
    events.onerror = () => {
      live("reconnecting…", false);
      // The browser retries a dropped stream by itself; one answered with an error status
      // (signed out, token revoked) it closes: ask again whether the cookie is still good.
      if (events.readyState !== EventSource.CLOSED) return;
      setTimeout(async () => {
        const signed = await session().catch(() => "unreachable" as const);
        if (signed === undefined) showSignIn("the session ended: sign in again");
        else connect();
      }, RETRY_MS);
    };
  };
  connect();
}

async function boot(): Promise<void> {
  $("signin").addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = await signIn($<HTMLInputElement>("token").value.trim());
    if (error) return showSignIn(error);
    $<HTMLInputElement>("token").value = "";
    await start();
  });
  // The token leaves the address before anything else happens, then becomes the cookie.
  const token = new URLSearchParams(location.search).get("token");
  if (token !== null) {
    history.replaceState(null, "", "/");
    const error = await signIn(token);
    if (error) return showSignIn(error);
  }
  await start();
}

async function start(): Promise<void> {
  const signed = await session().catch(() => "unreachable" as const);
  if (signed === "unreachable") setTimeout(() => void start(), RETRY_MS);
  else if (signed === undefined) showSignIn();
  else follow(signed);
}

void boot();
