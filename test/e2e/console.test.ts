/**
 * The console's pages (issue 35) in Debian's Chromium, driven by playwright-core against a
 * control plane and two agents started through dist/tessera: the addresses (reload, back and
 * forward), the overview's counts and legend, the tables, a rollout walked from the workload
 * page, a node cordoned from its page, the events page, an incident (a node killed: its copies
 * move, the events page and the time slider show it), a workload's previous copy's output, exec
 * audit trail, YAML spec and periodic runs, and axe-core on every page in light and dark (no
 * serious or critical violation). Screenshots go to test-artifacts/web/, and with
 * TESSERA_DOCS=1 the README's to docs/.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { needTools } from "../system-packages/need.js";
import { E2E_TIMEOUT_MS, eventually, Harness, requireBinary, type Server } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const CHROMIUM = "/usr/bin/chromium";
const ROOT = join(import.meta.dir, "..", "..");
const ARTIFACTS = join(ROOT, "test-artifacts", "web");
const DOCS = join(ROOT, "docs");
const SHOWN_MS = 10_000;
const AXE = readFileSync(join(ROOT, "node_modules", "axe-core", "axe.min.js"), "utf8");

const inChromium = needTools("the console's browser tests", ["chromium"]);

const h = new Harness();
let control: Server;
let browser: Browser;
let web = "";
let address = "";
const adminToken = () => readFileSync(join(h.dir, "control", "admin-token"), "utf8").trim();
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

async function apply(name: string, spec: object): Promise<void> {
  const file = join(h.dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ name, spec }));
  const out = await ctl("apply", "-f", file);
  expect(out.stderr).toBe("");
  expect(out.code).toBe(0);
}

/** Requests the pages made that were answered 4xx/5xx, and errors they logged (a page must log none). */
const failed: string[] = [];

async function open(token: string, path = "/"): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  page.on("response", (r) => {
    if (r.status() >= 400) failed.push(`${r.status()} ${new URL(r.url()).pathname}`);
  });
  page.on("console", (m) => {
    if (m.type() === "error") failed.push(`console: ${m.text()}`);
  });
  page.on("dialog", (d) => void d.accept());
  await page.goto(`${web}${path}?token=${encodeURIComponent(token)}`);
  await page.locator("#status").filter({ hasText: /^live/ }).waitFor({ timeout: SHOWN_MS });
  return page;
}

/** axe-core on the page as it is: no serious or critical violation. */
async function axe(page: Page, where: string): Promise<void> {
  // Evaluated over the DevTools protocol: the page's CSP (script-src 'self') does not apply.
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const r = await (window as unknown as { axe: { run(): Promise<{ violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }> }> } }).axe.run();
    return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  expect({ where, violations }).toEqual({ where, violations: [] });
}

async function screenshot(page: Page, name: string, docs = false): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `console-${name}.png`), fullPage: true });
  // Only when asked: the README's copies are committed, and a plain run leaves the tree as it was.
  if (docs && process.env.TESSERA_DOCS === "1") {
    mkdirSync(DOCS, { recursive: true });
    // The README's copy: the first screen only, kept small.
    await page.screenshot({ path: join(DOCS, `console-${name}.png`), type: "png", scale: "css", clip: { x: 0, y: 0, width: 1200, height: 600 } });
  }
}

const heading = (page: Page) => page.locator("h2:visible").first();

describe.skipIf(inChromium.skip)("the console in a browser", () => {
  beforeAll(async () => {
    requireBinary();
    inChromium.require();
    control = h.start(["control", "--listen", "127.0.0.1:0", "--data-dir", join(h.dir, "control"), "--metrics-listen", "127.0.0.1:0"]);
    web = `http://${String((await control.waitForLog((l) => l.msg === "http listening")).address)}`;
    address = String((await control.waitForLog((l) => l.msg === "control plane listening")).address);
    h.start(["agent", "--control", address, "--name", "node-a", "--label", "zone=a", "--data-dir", join(h.dir, "node-a")]);
    h.start(["agent", "--control", address, "--name", "node-b", "--label", "zone=b", "--data-dir", join(h.dir, "node-b")]);
    await eventually("two nodes Ready", async () => ((await ctl("get", "nodes")).stdout.match(/Ready/g)?.length === 2 ? true : undefined), 15_000);
    await apply("web", { command: "/bin/sh", args: ["-c", "echo hello from $TESSERA_INSTANCE; exec sleep 3600"], replicas: 2 });
    await apply("huge", { command: "/bin/sleep", args: ["3600"], resources: { cpuMillis: 1_000_000 } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  });
  afterAll(async () => {
    await browser?.close();
    await h.stop();
  });

  test("every page has its address: links move with the history, reload and back and forward keep the place, and axe finds nothing serious in light or dark", async () => {
    const page = await open(adminToken());
    await page.locator('.copy[data-name="web-1"]').waitFor({ timeout: SHOWN_MS });
    // The overview: counts, a legend, node tiles with their labels, and "Not placed" without a capacity bar.
    await page.locator("#counts .card").first().waitFor({ timeout: SHOWN_MS });
    expect(await page.locator("#counts").textContent()).toContain("Recent failures");
    expect(await page.locator(".legend").textContent()).toContain("R Running and Ready");
    expect(await page.locator('.node[data-node="node-a"] .labels').textContent()).toBe("zone=a");
    await page.locator('.copy[data-name="huge-0"]').waitFor({ timeout: SHOWN_MS });
    expect(await page.locator('.node[data-node=""] .use').isVisible()).toBe(false);
    await axe(page, "overview");
    await screenshot(page, "overview", true);
    await page.emulateMedia({ colorScheme: "dark" });
    await axe(page, "overview, dark");
    await screenshot(page, "overview-dark");
    await page.emulateMedia({ colorScheme: "light" });

    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Workloads" }).click();
    expect(new URL(page.url()).pathname).toBe("/workloads");
    await page.getByRole("table", { name: "workloads" }).getByRole("link", { name: "web" }).click();
    expect(new URL(page.url()).pathname).toBe("/workloads/web");
    expect(await heading(page).textContent()).toBe("Workload web");
    await page.locator(".spec").filter({ hasText: '"replicas": 2' }).waitFor({ timeout: SHOWN_MS });
    await page.reload();
    await page.locator(".spec").waitFor({ timeout: SHOWN_MS });
    expect(await heading(page).textContent()).toBe("Workload web");
    await page.goBack();
    expect(new URL(page.url()).pathname).toBe("/workloads");
    expect(await heading(page).textContent()).toBe("Workloads");
    await page.goForward();
    expect(await heading(page).textContent()).toBe("Workload web");
    // A copy's log, followed, from the workload's page.
    await page.getByRole("button", { name: "web-0: show details and log" }).click();
    await eventually("web-0's log line", async () => ((await page.locator(".copy-panel pre").textContent())?.includes("hello from web-0") ? true : undefined), SHOWN_MS);
    await axe(page, "workload");
    await screenshot(page, "workload", true);

    for (const [path, title] of [["/workloads", "Workloads"], ["/nodes", "Nodes"], ["/nodes/node-a", "Node node-a"], ["/events", "Events"]] as const) {
      await page.goto(`${web}${path}`);
      await page.locator("h2:visible").filter({ hasText: title }).waitFor({ timeout: SHOWN_MS });
      if (path === "/nodes/node-a") await page.getByText("Executors").waitFor({ timeout: SHOWN_MS });
      if (path === "/events") await page.locator(".timeline li[data-seq]").first().waitFor({ timeout: SHOWN_MS });
      await axe(page, path);
      await screenshot(page, path.slice(1).replaceAll("/", "-"), true);
    }
    expect((await fetch(`${web}/workloads/web/nothing`)).status).toBe(404);
    expect(failed).toEqual([]);
  });

  test("the tables sort and filter; the events page filters by workload and links to its subjects", async () => {
    const page = await open(adminToken(), "/workloads");
    const table = page.getByRole("table", { name: "workloads" });
    await table.getByRole("link", { name: "huge" }).waitFor({ timeout: SHOWN_MS });
    const names = () => table.locator("tbody tr td:first-child").allTextContents();
    expect(await names()).toEqual(["huge", "web"]);
    await table.getByRole("button", { name: "Name" }).click();
    expect(await names()).toEqual(["web", "huge"]);
    expect(await table.locator("th").first().getAttribute("aria-sort")).toBe("descending");
    await page.getByRole("searchbox", { name: "Filter workloads" }).fill("hug");
    expect(await names()).toEqual(["huge"]);
    await page.getByRole("searchbox", { name: "Filter workloads" }).fill("");
    // The time slider moves the table too: just before huge was applied, only web was there.
    const applied = await page.evaluate(async () => ((await (await fetch("/api/log?limit=1000")).json()) as { events: Array<{ sequence: number; type: string; workload: string }> }).events.find((e) => e.type === "WorkloadApplied" && e.workload === "huge")!.sequence);
    await page.locator("#seq").fill(String(applied - 1));
    await eventually("the table as of before huge", async () => (JSON.stringify(await names()) === '["web"]' ? true : undefined), SHOWN_MS);
    await page.getByRole("button", { name: "Back to live" }).click();
    await eventually("the table live again", async () => ((await names()).length === 2 ? true : undefined), SHOWN_MS);

    await page.goto(`${web}/events?workload=huge`);
    const first = page.locator(".timeline li[data-seq]").first();
    await first.waitFor({ timeout: SHOWN_MS });
    expect(await page.getByRole("searchbox", { name: "Workload" }).inputValue()).toBe("huge");
    for (const li of await page.locator(".timeline li[data-seq]").all()) expect(await li.getByRole("link", { name: "huge" }).count()).toBe(1);
    await first.getByRole("link", { name: "huge" }).click();
    expect(new URL(page.url()).pathname).toBe("/workloads/huge");
  });

  test("a rollout walked from the page: a change with a canary waits, is promoted from the page, and completes", async () => {
    const canary = { update: { canary: 1, autoPromote: false, minHealthyTime: "1s" } };
    await apply("roll", { command: "/bin/sleep", args: ["3600"], replicas: 2, ...canary });
    await eventually("roll Ready", async () => ((await ctl("get", "workloads")).stdout.match(/roll\s+2\/2/) ? true : undefined), SHOWN_MS);
    const page = await open(adminToken(), "/workloads/roll");
    await apply("roll", { command: "/bin/sleep", args: ["3601"], replicas: 2, ...canary });
    const promote = page.getByRole("button", { name: "Promote" });
    // The canary is started and becomes Ready before the rollout waits on its promotion.
    await promote.waitFor({ timeout: 20_000 });
    expect(await page.locator(".pairs").first().textContent()).toContain("held: canary");
    await screenshot(page, "rollout-canary");
    await promote.click();
    await page.locator(".pairs").first().filter({ hasText: "Statusready" }).waitFor({ timeout: 20_000 });
    expect(await page.locator(".pairs").first().textContent()).toContain("UP-TO-DATE2");
    expect(await page.locator(".pairs").first().textContent()).toContain("Generation2");
    await page.locator(".revisions li").nth(1).waitFor({ timeout: SHOWN_MS });
    await screenshot(page, "rollout-complete");
  });

  test("a node cordoned, uncordoned and drained from its page, each confirmed; a read-only token is offered no action anywhere", async () => {
    const page = await open(adminToken(), "/nodes");
    // Without a mouse: a link followed with Enter moves the focus to the page's heading; an action is a button Enter presses.
    await page.getByRole("table", { name: "nodes" }).getByRole("link", { name: "node-b" }).focus();
    await page.keyboard.press("Enter");
    await eventually("the focus on node-b's heading", async () => ((await page.evaluate(() => document.activeElement?.textContent)) === "Node node-b" ? true : undefined), SHOWN_MS);
    await page.getByRole("button", { name: "Cordon" }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("button", { name: "Uncordon" }).waitFor({ timeout: SHOWN_MS });
    expect((await ctl("get", "nodes")).stdout).toContain("SchedulingDisabled");
    await screenshot(page, "node-cordoned");
    await page.getByRole("button", { name: "Uncordon" }).click();
    await page.getByRole("button", { name: "Cordon" }).waitFor({ timeout: SHOWN_MS });
    expect((await ctl("get", "nodes")).stdout).not.toContain("SchedulingDisabled");

    const created = await ctl("token", "create", "--read-only");
    const reader = await open(created.stdout.trim(), "/workloads/web");
    await reader.locator(".spec").waitFor({ timeout: SHOWN_MS });
    for (const path of ["/workloads/web", "/nodes/node-a", "/"]) {
      await reader.goto(`${web}${path}`);
      await reader.locator("h2:visible").first().waitFor();
      await reader.locator(".copy:visible, table:visible").first().waitFor({ timeout: SHOWN_MS });
      expect({ path, actions: await reader.locator("button[data-action], button.action").count() }).toEqual({ path, actions: 0 });
    }
    // The overview's node tiles show what their copies use, from the board `ctl top` reads.
    await reader.locator('.node[data-node="node-a"] .usage').filter({ hasText: /^using \d+m CPU, \d+ MiB$/ }).waitFor({ timeout: 12_000 });

    // A drain from the page, with its progress: the copies still on the node, down to none.
    await page.getByRole("button", { name: "Drain" }).click();
    await page.locator(".pairs").first().filter({ hasText: /Draindraining: 0 copies still on it/ }).waitFor({ timeout: 25_000 });
    await screenshot(page, "node-drained");
    // A drain replaces each copy before stopping it: it can take longer than the other steps.
  }, 45_000);

  test("an incident: a node dies, its copies move, the events page shows it, and the time slider shows the fleet before it", async () => {
    const dead = h.start(["agent", "--control", address, "--name", "node-c", "--label", "zone=c", "--data-dir", join(h.dir, "node-c")]);
    await eventually("node-c Ready", async () => ((await ctl("get", "nodes")).stdout.match(/node-c\s+Ready/) ? true : undefined), SHOWN_MS);
    // Its copies on node-c only: the other nodes cordoned while they are placed.
    for (const n of ["node-a", "node-b"]) expect((await ctl("cordon", n)).code).toBe(0);
    await apply("inc", { command: "/bin/sleep", args: ["3600"], replicas: 2 });
    await eventually("inc running on node-c", async () => ((await ctl("get", "instances", "inc")).stdout.match(/Running.*node-c/g)?.length === 2 ? true : undefined), SHOWN_MS);
    for (const n of ["node-a", "node-b"]) expect((await ctl("uncordon", n)).code).toBe(0);
    const page = await open(adminToken(), "/events");
    await page.getByRole("searchbox", { name: "Workload" }).fill("inc");

    dead.proc.kill("SIGKILL");
    // Offline after the default 5 s of silence; its copies are lost and placed on the nodes left.
    const lost = page.locator(".timeline li[data-seq]").filter({ hasText: "lost: its node went offline" });
    await lost.nth(1).waitFor({ timeout: 15_000 });
    await page.locator(".timeline li[data-seq]").filter({ hasText: /placed on node-[ab]/ }).nth(1).waitFor({ timeout: SHOWN_MS });
    await screenshot(page, "incident-events");
    const before = Number(await lost.first().getAttribute("data-seq")) - 1;
    await page.getByRole("searchbox", { name: "Workload" }).fill("");
    await page.getByRole("searchbox", { name: "Node" }).fill("node-c");
    await page.locator(".timeline li[data-seq]").filter({ hasText: "node-c Offline" }).waitFor({ timeout: SHOWN_MS });
    await axe(page, "events of an incident");
    await page.goto(`${web}/nodes`);
    await page.getByRole("table", { name: "nodes" }).locator("tr", { hasText: "node-c" }).filter({ hasText: /offline/i }).waitFor({ timeout: SHOWN_MS });

    // The fleet before the incident: the overview as of the event before the first copy was lost.
    await page.goto(`${web}/`);
    const onDead = (state: string) => page.locator(`.node[data-node="node-c"] .copy[data-workload="inc"][data-state="${state}"]`).count();
    await eventually("inc's copies Lost on node-c, live", async () => ((await onDead("lost")) === 2 ? true : undefined), SHOWN_MS);
    await page.locator("#seq").fill(String(before));
    await eventually("inc's copies Running on node-c as of before", async () => ((await onDead("running")) === 2 ? true : undefined), SHOWN_MS);
    expect(await page.locator("#status").textContent()).toBe(`past · #${before}`);
    await axe(page, "overview, past");
    await screenshot(page, "incident-before");
  }, 30_000);

  test("a workload's page: the previous copy's output, the exec audit trail without output, the spec as YAML, and a periodic batch's runs", async () => {
    // No soak after the restart: the replaced copy ends as soon as the next one runs.
    await apply("prev", { command: "/bin/sh", args: ["-c", "echo copy $TESSERA_INSTANCE_ID; exec sleep 3600"], update: { minHealthyTime: "0s" } });
    const firstCopy = async () => (await ctl("get", "instances", "prev")).stdout.match(/prev-0\.\d+(?=.*Running)/)?.[0];
    const ended = await eventually("prev running", firstCopy, SHOWN_MS);
    expect((await ctl("rollout", "restart", "prev")).code).toBe(0);
    await eventually("prev's next copy running", async () => ((await firstCopy()) ?? ended) !== ended || undefined, 20_000);
    expect((await ctl("exec", "prev", "--", "sh", "-c", "echo out$((6*7))put")).stdout).toBe("out42put\n");
    await apply("nightly", { kind: "batch", command: "/bin/true", schedule: "0 3 * * *" });
    expect((await ctl("run", "nightly")).code).toBe(0);

    const page = await open(adminToken(), "/workloads/prev");
    await page.getByRole("table", { name: "copies" }).locator("tr", { hasText: "running" }).getByRole("button").click();
    await page.getByRole("button", { name: "Previous copy's output" }).click();
    await eventually("the ended copy's output", async () => ((await page.locator(".copy-panel pre").textContent())?.includes(`copy ${ended}`) ? true : undefined), SHOWN_MS);
    // A copy never placed has no ended copy before it: the stream says so and ends.
    const huge = (await ctl("get", "instances", "huge")).stdout.match(/huge-0\.\d+/)![0];
    expect(await page.evaluate(async (id) => (await fetch(`/api/logs?copy=${id}&previous=1`)).text(), huge)).toContain("huge-0 has no ended copy whose output its agent keeps");
    const trail = page.locator(".exec-trail li").filter({ hasText: "ran sh -c" });
    await trail.waitFor({ timeout: SHOWN_MS });
    // The output, which the command's own text cannot spell (a bare "42" could be the clock's).
    expect(await trail.textContent()).not.toContain("out42put");
    await axe(page, "workload, previous output");
    await screenshot(page, "workload-previous");

    await page.goto(`${web}/workloads`);
    const row = page.getByRole("table", { name: "workloads" }).locator("tr", { has: page.getByRole("link", { name: "nightly", exact: true }) });
    await row.filter({ hasText: "0 3 * * *" }).waitFor({ timeout: SHOWN_MS });
    await row.getByRole("link", { name: "nightly", exact: true }).click();
    const schedule = page.locator(".pairs").filter({ hasText: "Next run" });
    await schedule.filter({ hasText: /Last runnightly-\d{8}-\d{6}-manual/ }).filter({ hasText: /OutcomeComplete/ }).waitFor({ timeout: SHOWN_MS });
    // It runs nothing itself: scheduled, wanting no copy.
    expect(await page.locator(".pairs").first().textContent()).toContain("StatusscheduledREADY0/0");
    expect(await schedule.textContent()).toMatch(/Next run\d{4}-\d\d-\d\dT03:00:00\.000Z/);
    await page.getByRole("button", { name: "YAML" }).click();
    expect(await page.getByLabel("Spec as YAML").textContent()).toContain("schedule: 0 3 * * *");
    await axe(page, "periodic workload");
    await screenshot(page, "workload-periodic", true);
    expect(failed).toEqual([]);
  });
});
