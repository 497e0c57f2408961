/**
 * The mosaic (issue 19) in a real browser: Debian's Chromium driven by playwright-core against
 * a control plane and two agents started through dist/tessera. Each test saves a screenshot
 * under test-artifacts/web/. Without Chromium the suite skips, visibly; under TESSERA_CI=1
 * it fails instead.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { needTools } from "../system-packages/need.js";
import { E2E_TIMEOUT_MS, eventually, freeRange, Harness, requireBinary, type Server } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(import.meta.dir, "..", "..", "test-artifacts", "web");
/** How long the page may take to show what the control plane committed. */
const SHOWN_MS = 10_000;

const inChromium = needTools("the mosaic's browser tests", ["chromium"]);

const h = new Harness();
let control: Server;
let grpcPort = 0;
let httpPort = 0;
let browser: Browser;
const agents = new Map<string, Server>();
const contexts: BrowserContext[] = [];
const address = () => `127.0.0.1:${grpcPort}`;
const web = () => `http://127.0.0.1:${httpPort}`;
const adminToken = () => readFileSync(join(h.dir, "control", "admin-token"), "utf8").trim();
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address() });

async function apply(name: string, spec: object): Promise<void> {
  const file = join(h.dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ name, spec }));
  const out = await ctl("apply", "-f", file);
  expect(out.stderr).toBe("");
  expect(out.code).toBe(0);
}

/** The control plane on fixed ports, so that a restarted one is where the page looks for it. */
async function startControl(): Promise<void> {
  control = h.start(["control", "--listen", address(), "--data-dir", join(h.dir, "control"), "--metrics-listen", `127.0.0.1:${httpPort}`]);
  await control.waitForLog((l) => l.msg === "control plane listening");
}

function startAgent(name: string): void {
  agents.set(name, h.start(["agent", "--control", address(), "--name", name, "--data-dir", join(h.dir, name)]));
}

/** What the pages logged about their Content-Security-Policy: the page must need nothing it forbids. */
const cspViolations: string[] = [];

async function open(token?: string): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  await page.goto(token === undefined ? web() : `${web()}/?token=${encodeURIComponent(token)}`);
  return page;
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

const copy = (page: Page, name: string) => page.locator(`.copy[data-name="${name}"]`);
const node = (page: Page, name: string) => page.locator(`.node[data-node="${name}"]`);

describe.skipIf(inChromium.skip)("the mosaic in a browser", () => {
  beforeAll(async () => {
    requireBinary();
    inChromium.require();
    const ports = await freeRange(2);
    [grpcPort, httpPort] = [ports.from, ports.to];
    await startControl();
    startAgent("node-a");
    startAgent("node-b");
    await eventually("two nodes Ready", async () => ((await ctl("get", "nodes")).stdout.match(/Ready/g)?.length === 2 ? true : undefined), 15_000);
    await apply("web", { command: "/bin/sh", args: ["-c", "echo hello from $TESSERA_INSTANCE; exec sleep 3600"], replicas: 2 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  });
  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await h.stop();
  });

  test("without a token no fleet data reaches the browser: the sign-in form, and the API answers 401", async () => {
    const page = await open();
    const answers: Array<[string, number]> = [];
    page.on("response", (r) => answers.push([new URL(r.url()).pathname, r.status()]));
    await page.reload();
    await page.locator("#signin").waitFor({ state: "visible" });
    expect(await page.locator(".copy, .node").count()).toBe(0);
    expect(await page.locator("#app").isVisible()).toBe(false);
    // The page asked only whether it is signed in; asked directly, every data endpoint refuses.
    const asked = answers.filter(([path]) => path.startsWith("/api/"));
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.filter(([path, status]) => path !== "/api/session" || status !== 401)).toEqual([]);
    const statuses = await page.evaluate(async () => Promise.all(["/api/events", "/api/history?workload=web", "/api/logs?copy=web-0.1", "/api/usage?copy=web-0.1"].map(async (p) => (await fetch(p)).status)));
    expect(statuses).toEqual([401, 401, 401, 401]);
    // A wrong token is refused and says so.
    await page.locator("#token").fill("tessera-admin-not-a-token");
    await page.locator("#signin button").click();
    await eventually("the refusal shown", async () => ((await page.locator("#signin-error").textContent())?.includes("not an active") ? true : undefined), SHOWN_MS);
    await screenshot(page, "signed-out");
  });

  test("an admin token signs in, leaves the address, and the nodes and copies are shown; an applied workload appears without a reload", async () => {
    const page = await open(adminToken());
    await copy(page, "web-1").waitFor({ timeout: SHOWN_MS });
    expect(new URL(page.url()).search).toBe("");
    expect(await page.locator("#signin").isVisible()).toBe(false);
    // The cookie holds a session's random id, never the token.
    const cookies = await page.context().cookies();
    expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite])).toEqual([["tessera_session", true, "Strict"]]);
    expect(cookies[0]!.value).not.toContain(adminToken());
    expect(cookies[0]!.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await node(page, "node-a").waitFor();
    await node(page, "node-b").waitFor();
    await page.getByRole("button", { name: /^web-0 Running Ready on node-[ab]$/ }).waitFor({ timeout: SHOWN_MS });
    await page.evaluate(() => ((window as unknown as { kept: boolean }).kept = true));
    await apply("api", { command: "/bin/sleep", args: ["3600"], replicas: 3 });
    await page.getByRole("button", { name: /^api-2 Running Ready on node-[ab]$/ }).waitFor({ timeout: SHOWN_MS });
    expect(await page.evaluate(() => (window as unknown as { kept?: boolean }).kept)).toBe(true);
    // Picking a workload lights up its copies, with its rollout's progress.
    await page.locator("#workload").selectOption("api");
    expect(await page.locator(".copy.lit").count()).toBe(3);
    await eventually("api's progress", async () => ((await page.locator("#progress").textContent()) === "api: 3 of 3 Ready, generation 1" ? true : undefined), SHOWN_MS);
    await screenshot(page, "mosaic");
  });

  test("a copy picked with the keyboard opens its panel: workload, node, events and its log lines", async () => {
    const page = await open(adminToken());
    await copy(page, "web-0").waitFor({ timeout: SHOWN_MS });
    // Tab reaches the mosaic's one focusable copy; arrows move between copies; Enter picks.
    await copy(page, "web-0").focus();
    const focused = () => page.evaluate(() => [(document.activeElement as HTMLElement).dataset.name, (document.activeElement as HTMLElement).dataset.node]);
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowLeft");
    expect((await focused())[0]).toBe("web-0");
    // Up and down go to the first copy of the node before or after; Home and End to the ends.
    const nodes = (await page.locator(".node").evaluateAll((els) => els.map((el) => [(el as HTMLElement).dataset.node, el.querySelector<HTMLElement>(".copy")?.dataset.name]))).filter(([, first]) => first !== undefined);
    expect(nodes.length).toBeGreaterThanOrEqual(2);
    await page.keyboard.press("End");
    const last = await focused();
    expect(last[1]).toBe(nodes.at(-1)![0]);
    await page.keyboard.press("ArrowUp");
    expect(await focused()).toEqual([nodes.at(-2)![1], nodes.at(-2)![0]]);
    await page.keyboard.press("ArrowDown");
    expect(await focused()).toEqual([nodes.at(-1)![1], nodes.at(-1)![0]]);
    await page.keyboard.press("Home");
    expect(await focused()).toEqual([nodes[0]![1], nodes[0]![0]]);
    await copy(page, "web-0").focus();
    await page.keyboard.press("Enter");
    const panel = page.locator("#panel");
    await panel.waitFor({ state: "visible" });
    expect(await panel.locator("h2").textContent()).toMatch(/^web-0 Running Ready on node-[ab]$/);
    expect(await panel.locator("dl").textContent()).toContain("Workloadweb");
    await eventually("web-0's log line", async () => ((await panel.locator("pre").textContent())?.includes("hello from web-0\n") ? true : undefined), SHOWN_MS);
    await eventually("web-0's events", async () => ((await panel.locator("ol li").allTextContents()).some((t) => t.includes("web-0")) ? true : undefined), SHOWN_MS);
    await screenshot(page, "panel");
  });

  test("a cordon with ctl shows; an admin uncordons from the page after confirming", async () => {
    const page = await open(adminToken());
    await node(page, "node-b").waitFor({ timeout: SHOWN_MS });
    expect((await ctl("cordon", "node-b")).code).toBe(0);
    await page.locator('.node[data-node="node-b"][data-cordoned="true"]').waitFor({ timeout: SHOWN_MS });
    expect(await node(page, "node-b").locator(".flags").textContent()).toContain("cordoned");
    await screenshot(page, "cordoned");
    const asked: string[] = [];
    page.on("dialog", (d) => {
      asked.push(d.message());
      void d.accept();
    });
    await page.getByRole("button", { name: "uncordon node-b" }).click();
    await page.locator('.node[data-node="node-b"][data-cordoned="false"]').waitFor({ timeout: SHOWN_MS });
    expect(asked).toEqual(["Uncordon node node-b?"]);
    expect((await ctl("get", "nodes")).stdout).not.toContain("SchedulingDisabled");
  });

  test("a read-only token sees the fleet but no mutation controls, and the API refuses it a mutation", async () => {
    const created = await ctl("token", "create", "--read-only");
    expect(created.code).toBe(0);
    const page = await open(created.stdout.trim());
    await copy(page, "web-0").waitFor({ timeout: SHOWN_MS });
    await copy(page, "web-0").click();
    await page.locator("#panel h2").waitFor();
    expect(await page.locator("button[data-action]").count()).toBe(0);
    const status = await page.evaluate(async () => (await fetch("/api/nodes/node-a/cordon", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status);
    expect(status).toBe(403);
    await screenshot(page, "read-only");
  });

  test("the time slider shows a deleted workload at an earlier event, and goes back to live", async () => {
    const page = await open(adminToken());
    await apply("gone", { command: "/bin/sleep", args: ["3600"] });
    await page.getByRole("button", { name: /^gone-0 Running Ready on node-[ab]$/ }).waitFor({ timeout: SHOWN_MS });
    const seq = Number((await page.locator("#status").textContent())!.match(/#(\d+)/)![1]);
    expect((await ctl("delete", "workload", "gone")).code).toBe(0);
    await copy(page, "gone-0").waitFor({ state: "detached", timeout: SHOWN_MS });
    await page.locator("#seq").fill(String(seq));
    await page.getByRole("button", { name: /^gone-0 Running Ready on node-[ab]$/ }).waitFor({ timeout: SHOWN_MS });
    expect(await page.locator("#status").textContent()).toBe(`past · #${seq}`);
    await screenshot(page, "past");
    await page.locator("#live").click();
    await copy(page, "gone-0").waitFor({ state: "detached", timeout: SHOWN_MS });
    expect(await page.locator("#status").textContent()).toMatch(/^live · #\d+$/);
  });

  test("after a control-plane restart the page asks to sign in again (sessions live in its memory), then follows what changes", async () => {
    const page = await open(adminToken());
    await copy(page, "web-0").waitFor({ timeout: SHOWN_MS });
    control.proc.kill("SIGTERM");
    await control.proc.exited;
    await eventually("the page saying it reconnects", async () => ((await page.locator("#status").textContent()) === "reconnecting…" ? true : undefined), SHOWN_MS);
    await startControl();
    await page.locator("#signin").waitFor({ state: "visible", timeout: SHOWN_MS });
    expect(await page.locator("#signin-error").textContent()).toBe("the session ended: sign in again");
    await page.locator("#token").fill(adminToken());
    await page.locator("#signin button").click();
    await eventually("the page live again", async () => ((await page.locator("#status").textContent())?.startsWith("live") ? true : undefined), SHOWN_MS);
    await apply("late", { command: "/bin/sleep", args: ["3600"] });
    await copy(page, "late-0").waitFor({ timeout: SHOWN_MS });
  });

  test("the page is served with a CSP, frame-ancestors and Referrer-Policy, and breaks none of them", async () => {
    const page = await open(adminToken());
    const res = await page.goto(web());
    const headers = res!.headers();
    expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(headers["content-security-policy"]).toContain("script-src 'self'");
    expect(headers["referrer-policy"]).toBe("no-referrer");
    // The page and its files answer only to a Host the control plane serves as (DNS rebinding).
    expect((await fetch(`${web()}/`, { headers: { host: "rebound.evil.example" } })).status).toBe(403);
    await copy(page, "web-0").waitFor({ timeout: SHOWN_MS });
    await copy(page, "web-0").click();
    await page.locator("#panel pre").waitFor();
    expect(cspViolations).toEqual([]);
  });

  test("a page on another port of this host gets the cookie sent, and still changes nothing", async () => {
    const page = await open(adminToken());
    await node(page, "node-a").waitFor({ timeout: SHOWN_MS });
    // What any page the operator visits could do: a form-like POST (no preflight) with the cookie.
    const evil = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () =>
        new Response(
          `<script>fetch("${web()}/api/nodes/node-a/cordon", { method: "POST", mode: "no-cors", credentials: "include", headers: { "content-type": "text/plain" }, body: "{}" }).then(() => document.title = "sent");</script>`,
          { headers: { "content-type": "text/html" } },
        ),
    });
    try {
      const answered: number[] = [];
      page.on("response", (r) => {
        if (r.url().endsWith("/cordon")) answered.push(r.status());
      });
      await page.goto(`http://127.0.0.1:${evil.port}/`);
      await eventually("the cross-origin POST sent", async () => ((await page.title()) === "sent" ? true : undefined), SHOWN_MS);
      expect(answered).toEqual([403]);
      expect((await ctl("get", "nodes")).stdout).not.toContain("SchedulingDisabled");
    } finally {
      await evil.stop(true);
    }
  });

  test("sign-out ends the session on the control plane: its cookie no longer reads anything", async () => {
    const page = await open(adminToken());
    await copy(page, "web-0").waitFor({ timeout: SHOWN_MS });
    const [cookie] = await page.context().cookies();
    const header = { cookie: `${cookie!.name}=${cookie!.value}` };
    expect((await fetch(`${web()}/api/session`, { headers: header })).status).toBe(200);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.locator("#signin").waitFor({ state: "visible", timeout: SHOWN_MS });
    expect((await fetch(`${web()}/api/session`, { headers: header })).status).toBe(401);
    expect((await fetch(`${web()}/api/events`, { headers: header })).status).toBe(401);
  });

  test("an agent killed with -9 turns its node Offline on the page", async () => {
    const page = await open(adminToken());
    await page.locator('.node[data-node="node-b"][data-health="ready"]').waitFor({ timeout: SHOWN_MS });
    const agent = agents.get("node-b")!;
    agent.proc.kill("SIGKILL");
    await agent.proc.exited;
    // Suspect after 3 s of silence, Offline after 5 s (the defaults), judged at the next tick.
    await page.locator('.node[data-node="node-b"][data-health="offline"]').waitFor({ timeout: 15_000 });
    expect(await node(page, "node-b").getAttribute("aria-label")).toMatch(/^node-b Offline/);
    await screenshot(page, "offline");
  });
});

describe("the web page's listener beyond loopback", () => {
  const other = new Harness();
  afterAll(() => other.stop());

  test("serves HTTPS with the control plane's server certificate, and the API still wants a token", async () => {
    requireBinary();
    const { from: port } = await freeRange(1);
    const server = other.start(["control", "--listen", "127.0.0.1:0", "--data-dir", join(other.dir, "control"), "--metrics-listen", `0.0.0.0:${port}`]);
    const line = await server.waitForLog((l) => l.msg === "http listening");
    expect(line.url).toBe(`https://127.0.0.1:${port}/`);
    // The listener is up before the control plane serves (the page answers 503 until then).
    await server.waitForLog((l) => l.msg === "control plane listening");
    const ca = readFileSync(join(other.dir, "control", "pki", "ca.pem"), "utf8");
    const session = await fetch(`https://127.0.0.1:${port}/api/session`, { tls: { ca } });
    expect(session.status).toBe(401);
    const page = await fetch(`https://127.0.0.1:${port}/`, { tls: { ca } });
    expect(await page.text()).toContain("<title>Tessera</title>");
    const token = readFileSync(join(other.dir, "control", "admin-token"), "utf8").trim();
    const origin = `https://127.0.0.1:${port}`;
    const signIn = await fetch(`${origin}/api/session`, { method: "POST", body: JSON.stringify({ token }), headers: { origin, "content-type": "application/json" }, tls: { ca } });
    expect(signIn.headers.get("set-cookie")).toMatch(/^__Host-tessera_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+; Secure$/);
    await expect(fetch(`http://127.0.0.1:${port}/api/session`)).rejects.toThrow();
  });
});

describe("the web page under --insecure", () => {
  const plain = new Harness();
  afterAll(() => plain.stop());

  test("reads without signing in and changes nothing: every caller would be admin, and any page the operator visits could POST", async () => {
    requireBinary();
    const server = plain.start(["control", "--insecure", "--listen", "127.0.0.1:0", "--data-dir", join(plain.dir, "control"), "--metrics-listen", "127.0.0.1:0"]);
    const http = String((await server.waitForLog((l) => l.msg === "http listening")).address);
    await server.waitForLog((l) => l.msg === "control plane listening");
    const origin = `http://${http}`;
    expect(await (await fetch(`${origin}/api/session`)).json()).toEqual({ role: "readonly", signedIn: false });
    const change = (headers: Record<string, string>) => fetch(`${origin}/api/nodes/n1/cordon`, { method: "POST", headers, body: "{}" });
    expect((await change({ origin, "content-type": "application/json" })).status).toBe(403);
    expect((await change({ origin: "http://evil.example", "content-type": "application/json" })).status).toBe(403);
    expect((await fetch(`${origin}/api/session`, { headers: { host: "rebound.evil.example" } })).status).toBe(403);
    expect((await fetch(`${origin}/api/session`, { method: "POST", headers: { origin, "content-type": "application/json" }, body: JSON.stringify({ token: "x" }) })).status).toBe(409);

    if (inChromium.skip) return;
    inChromium.require();
    // In a browser: the fleet without signing in, and nothing to sign out of or change.
    const address = String((await server.waitForLog((l) => l.msg === "control plane listening")).address);
    writeFileSync(join(plain.dir, "idle.json"), JSON.stringify({ name: "idle", spec: { command: "/bin/sleep", args: ["3600"] } }));
    expect((await plain.run(["ctl", "apply", "--insecure", "-f", join(plain.dir, "idle.json")], { TESSERA_CONTROL: address })).code).toBe(0);
    const chromium_ = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const page = await chromium_.newPage();
      await page.goto(`${origin}/`);
      await page.locator('.copy[data-name="idle-0"]').waitFor({ timeout: SHOWN_MS });
      await page.locator('.copy[data-name="idle-0"]').click();
      await page.locator("#panel h2").waitFor();
      expect([await page.locator("#signin").isVisible(), await page.locator("#signout").isVisible(), await page.locator("button[data-action]").count()]).toEqual([false, false, 0]);
    } finally {
      await chromium_.close();
    }
  });
});
