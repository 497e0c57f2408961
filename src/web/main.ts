/// <reference lib="dom" />
/**
 * The console's entry: signs in (a `?token=` in the address, or the form), then follows the
 * fleet over one EventSource on /api/events (a snapshot, then changes; after a control-plane
 * restart the browser reconnects by itself and a new snapshot replaces what the page held).
 * The time slider shows the fleet as it was at an earlier event (/api/at rebuilds it from the
 * log); live changes keep being folded in meanwhile, and "Back to live" shows them again.
 * Mutations ask for confirmation, then POST; only an admin is offered them. Signing out ends the
 * session on the control plane (the cookie holds only its id). Every page (routes.ts) draws from
 * the one followed fleet, or the past one the slider shows.
 */
import { applyChange, type Fleet, type FleetChange, type FleetSnapshot, fleetOf } from "../core/views/fleet-view.js";
import { act } from "./dom.js";
import { EventsPage } from "./events-page.js";
import { Mosaic } from "./mosaic.js";
import { NodePage, NodesPage } from "./nodes-page.js";
import { drawCounts, legend } from "./overview.js";
import type { PageView } from "./page.js";
import { Panel, type WorkloadAction } from "./panel.js";
import { followAddress, type Place, placeOf } from "./routes.js";
import { WorkloadPage, WorkloadsPage } from "./workloads-page.js";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
/** How soon a stream the browser gave up on (it answered an error status) is tried again. */
const RETRY_MS = 1_000;
/** The slider asks for the past once it rests this long. */
const SCRUB_MS = 150;
/** How often the overview reads what the nodes use (the agents report about as often). */
const USAGE_MS = 5_000;
/** The overview's counts and the other pages are drawn again at most this often as the fleet moves (a burst of changes is one redraw; a table of 10,000 rows is not redrawn per frame). */
const SETTLE_MS = 250;

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
  $("nav").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = error;
  showStatus("signed out", false);
  $<HTMLInputElement>("token").focus();
}

/** Ends the session on the control plane, then reloads: the page starts over at the sign-in form. */
async function signOut(): Promise<void> {
  await fetch("/api/session", { method: "DELETE", headers: { "content-type": "application/json" }, body: "{}" });
  location.reload();
}

/** The page being followed (a new one after each sign-in), and the address it shows. */
let followed: FleetPage | undefined;
followAddress((place) => followed?.go(place, true));

function follow({ role, signedIn }: Session): void {
  $("signin").hidden = true;
  $("app").hidden = false;
  $("nav").hidden = false;
  $("signout").hidden = !signedIn;
  $("signout").onclick = () => void signOut();
  followed?.stop();
  followed = new FleetPage(role === "admin");
  followed.connect();
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
  /** The slider was moved and the past it asks for is not shown yet: live changes must not move it back meanwhile. */
  private scrubbing = false;
  /** What changes asked of the header and panel, done once per animation frame however many arrive (a burst). */
  private readonly header = { frame: 0, relist: false, panel: false };
  /** Every page but the overview, by the kind of place it shows. */
  private readonly pages: Record<Exclude<Place["page"], "overview">, PageView>;
  private place: Place | undefined = { page: "overview" };
  /** The overview's counts or the page shown, drawn at most once per SETTLE_MS however often the fleet moves. */
  private settle: ReturnType<typeof setTimeout> | undefined;
  private readonly usage: ReturnType<typeof setInterval>;
  private events: EventSource | undefined;

  constructor(admin: boolean) {
    const current = () => this.current();
    const ctx = { fleet: current, pastSeq: () => this.past?.seq, admin };
    this.pages = { workloads: new WorkloadsPage(ctx), workload: new WorkloadPage(ctx), nodes: new NodesPage(ctx), node: new NodePage(ctx), events: new EventsPage(ctx) };
    $("pages").replaceChildren(...Object.values(this.pages).map((p) => p.el));
    $("legend").replaceChildren(legend());
    this.usage = setInterval(() => void this.readUsage(), USAGE_MS);
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
      this.scrubbing = true;
      this.scrub = setTimeout(() => void this.showPast(Number(this.slider.value)), SCRUB_MS);
    };
    $("live").onclick = () => this.goLive();
    this.go(placeOf(new URL(location.href)), false);
  }

  /** Shows a place's page (focus on its heading when the user went there), or says there is none. */
  go(place: Place | undefined, moved: boolean): void {
    this.pageOf(this.place)?.close();
    this.place = place;
    $("overview").hidden = place?.page !== "overview";
    $("nowhere").hidden = place !== undefined;
    for (const [kind, page] of Object.entries(this.pages)) page.el.hidden = place?.page !== kind;
    const page = this.pageOf(place);
    page?.open(place!);
    if (place?.page === "overview") this.drawSoon();
    for (const a of document.querySelectorAll<HTMLAnchorElement>("#nav a")) {
      if (a.pathname === location.pathname || (a.pathname !== "/" && location.pathname.startsWith(`${a.pathname}/`))) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    const heading = (page?.el ?? $("overview")).querySelector<HTMLElement>("h2");
    document.title = `${heading?.textContent || "Not found"} · Tessera`;
    if (moved) (heading ?? $("main")).focus();
  }

  /** Leaves: the stream closed, nothing polled. */
  stop(): void {
    this.events?.close();
    clearInterval(this.usage);
    clearTimeout(this.settle);
  }

  private pageOf(place: Place | undefined): PageView | undefined {
    return place === undefined || place.page === "overview" ? undefined : this.pages[place.page];
  }

  private drawSoon(): void {
    if (this.settle !== undefined) return;
    this.settle = setTimeout(() => {
      this.settle = undefined;
      if (this.place?.page === "overview") drawCounts($("counts"), this.current());
      else this.pageOf(this.place)?.refresh();
    }, SETTLE_MS);
  }

  /** What the nodes use, from the usage board, while the overview shows. */
  private async readUsage(): Promise<void> {
    if (this.place?.page !== "overview") return;
    const res = await fetch("/api/top");
    if (res.ok) this.mosaic.setUsage(((await res.json()) as { nodes: Record<string, { cpuMillis: number; memoryBytes: number }> }).nodes);
  }

  /** Follows the fleet: a snapshot, then changes, until the session ends. */
  connect(): void {
    const events = new EventSource("/api/events");
    this.events = events;
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
    if (this.past === undefined && !this.scrubbing) this.slider.value = this.slider.max;
    $("live").hidden = this.past === undefined;
    showStatus(this.past === undefined ? `live · #${this.fleet.seq}` : `past · #${this.past.seq}`, this.past === undefined);
  }

  private redraw(): void {
    this.mosaic.reset();
    this.showWorkloads();
    this.panel.refresh();
    this.showing();
    this.drawSoon();
    this.pageOf(this.place)?.refresh();
    void this.readUsage();
  }

  private goLive(): void {
    this.scrubbing = false;
    this.past = undefined;
    this.redraw();
  }

  /** Shows the fleet as it was at event `seq`, unless the slider moved on meanwhile. */
  private async showPast(seq: number): Promise<void> {
    if (seq >= this.fleet.seq) return this.goLive();
    const res = await fetch(`/api/at?seq=${seq}`);
    if (!res.ok) {
      this.scrubbing = false;
      return alert(((await res.json()) as { error: string }).error);
    }
    if (Number(this.slider.value) !== seq) return;
    this.scrubbing = false;
    this.past = fleetOf((await res.json()) as FleetSnapshot);
    this.redraw();
  }

  private showHeader(): void {
    this.showing();
    if (this.past === undefined) {
      if (this.header.relist) this.showWorkloads();
      else this.showProgress();
      if (this.header.panel) this.panel.refresh();
      this.drawSoon();
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
    history.replaceState(null, "", location.pathname);
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
