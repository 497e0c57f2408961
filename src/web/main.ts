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

/** The status line: what the page shows (live, past, signed out) and whether it is live. */
function showStatus(text: string, live: boolean): void {
  $("status").textContent = text;
  $("status").dataset.live = String(live);
}

function showSignIn(error = ""): void {
  $("app").hidden = true;
  $("picker").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = error;
  showStatus("signed out", false);
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
  new FleetPage(role === "admin").connect();
}

/** The signed-in page: the mosaic, the panel, the workload picker and the time slider, over one followed fleet. */
class FleetPage {
  private fleet: Fleet = fleetOf({ seq: 0, nodes: [], copies: [], workloads: [] });
  /** The fleet at an earlier event, while the slider shows one. */
  private past: Fleet | undefined;
  private readonly panel: Panel;
  private readonly mosaic: Mosaic;
  private readonly picker = $<HTMLSelectElement>("workload");
  private readonly slider = $<HTMLInputElement>("seq");
  /** The workloads the picker lists: a change naming only these leaves the list as it is. */
  private listed = new Set<string>();
  private scrub: ReturnType<typeof setTimeout> | undefined;
  /** What changes asked of the header and panel, done once per animation frame however many arrive (a burst). */
  private readonly header = { frame: 0, relist: false, panel: false };

  constructor(admin: boolean) {
    const current = () => this.current();
    this.panel = new Panel($("panel"), current, {
      admin,
      workloadAction: (workload, action: WorkloadAction) =>
        void act(`/api/workloads/${encodeURIComponent(workload)}/${action}`, action === "delete" ? `Delete workload ${workload} and stop all its copies?` : `Rollout ${action} ${workload}?`),
    });
    this.mosaic = new Mosaic($("mosaic"), current, {
      admin,
      select: (id) => this.panel.show(id),
      nodeAction: (node, action) => void act(`/api/nodes/${encodeURIComponent(node)}/${action}`, `${action[0]!.toUpperCase()}${action.slice(1)} node ${node}?`),
    });
    this.picker.onchange = () => {
      this.mosaic.setPicked(this.picker.value);
      this.showProgress();
    };
    this.slider.oninput = () => {
      clearTimeout(this.scrub);
      this.scrub = setTimeout(() => void this.showPast(Number(this.slider.value)), SCRUB_MS);
    };
    $("live").onclick = () => this.goLive();
  }

  /** Follows the fleet: a snapshot, then changes, until the session ends. */
  connect(): void {
    const events = new EventSource("/api/events");
    events.addEventListener("snapshot", (e) => {
      this.fleet = fleetOf(JSON.parse((e as MessageEvent<string>).data) as FleetSnapshot);
      this.redraw();
    });
    events.addEventListener("change", (e) => {
      const c = JSON.parse((e as MessageEvent<string>).data) as FleetChange;
      applyChange(this.fleet, c);
      const header = this.header;
      header.relist ||= c.goneWorkloads.length > 0 || c.workloads.some((w) => !this.listed.has(w.name));
      header.panel ||= c.copies.some((x) => x.id === this.panel.selected) || c.goneCopies.includes(this.panel.selected);
      if (this.past === undefined) this.mosaic.touch(c);
      if (header.frame === 0) header.frame = requestAnimationFrame(() => this.showHeader());
    });
    events.onerror = () => {
      showStatus("reconnecting…", false);
      // The browser retries a dropped stream by itself; one answered with an error status
      // (signed out, token revoked) it closes: ask again whether the cookie is still good.
      if (events.readyState !== EventSource.CLOSED) return;
      setTimeout(async () => {
        const signed = await session().catch(() => "unreachable" as const);
        if (signed === undefined) showSignIn("the session ended: sign in again");
        else this.connect();
      }, RETRY_MS);
    };
  }

  private current(): Fleet {
    return this.past ?? this.fleet;
  }

  private showProgress(): void {
    const w = this.current().workloads.get(this.picker.value);
    $("progress").textContent = w ? `${w.name}: ${w.ready} of ${w.desired} Ready, generation ${w.generation}${w.deleting ? ", deleting" : ""}` : "";
  }

  private showWorkloads(): void {
    const picker = this.picker;
    const names = [...this.current().workloads.keys()].sort();
    const have = [...picker.options].slice(1).map((o) => o.value);
    this.listed = new Set(names);
    if (names.join("\n") !== have.join("\n")) {
      const keep = picker.value;
      picker.replaceChildren(new Option("(none)", ""), ...names.map((n) => new Option(n, n)));
      picker.value = names.includes(keep) ? keep : "";
      if (picker.value !== keep) this.mosaic.setPicked("");
    }
    this.showProgress();
  }

  private showing(): void {
    $("time").hidden = false;
    this.slider.max = String(this.fleet.seq);
    if (this.past === undefined) this.slider.value = this.slider.max;
    $("live").hidden = this.past === undefined;
    showStatus(this.past === undefined ? `live · #${this.fleet.seq}` : `past · #${this.past.seq}`, this.past === undefined);
  }

  private redraw(): void {
    this.mosaic.reset();
    this.showWorkloads();
    this.panel.refresh();
    this.showing();
  }

  private goLive(): void {
    this.past = undefined;
    this.redraw();
  }

  /** Shows the fleet as it was at event `seq`, unless the slider moved on meanwhile. */
  private async showPast(seq: number): Promise<void> {
    if (seq >= this.fleet.seq) return this.goLive();
    const res = await fetch(`/api/at?seq=${seq}`);
    if (!res.ok) return alert(((await res.json()) as { error: string }).error);
    if (Number(this.slider.value) !== seq) return;
    this.past = fleetOf((await res.json()) as FleetSnapshot);
    this.redraw();
  }

  private showHeader(): void {
    this.showing();
    if (this.past === undefined) {
      if (this.header.relist) this.showWorkloads();
      else this.showProgress();
      if (this.header.panel) this.panel.refresh();
    }
    Object.assign(this.header, { frame: 0, relist: false, panel: false });
  }
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
