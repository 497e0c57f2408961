/**
 * A fleet of hosts on one machine (#29): each host a network namespace with its own address,
 * loopback and data dir, all on a private bridge. The bridge sits in a "switch" namespace of its
 * own, so the machine's firewall (Docker sets FORWARD to DROP) never sees the traffic and
 * nothing outside the lab's namespaces is changed. A host is cut off by setting its port on the
 * switch down, and healed by setting it up; its processes keep running.
 *
 * Nothing crosses hosts but the network: tessera runs in a host with `ip netns exec`, each host
 * with its own data dir; what an operator would copy (the join token, the CA) is copied as bytes.
 *
 * Every run has a name of its own (`tlab-<pid>-<random>`) and a random /24 in 198.18.0.0/15, so
 * labs running side by side do not meet; a run finds what an earlier run that crashed left
 * (its pid is gone) and removes it before making its own.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { caHashOf } from "../../src/shell/ca-hash.js";
import { BINARY, Harness, instanceProcesses, isAlive, requireBinary, type Server } from "../e2e/harness.js";
import { judgeTools, needsRoot, needTools, type ToolNeed } from "../system-packages/need.js";
import type { SystemTool } from "../system-packages/packages.js";

/** A lab's namespaces are named `tlab-<pid>-…` and its directory `tessera-lab-<pid>-…`, <pid> the test run's. */
const FAMILY = "tlab";
const DIR_FAMILY = "tessera-lab-";

/**
 * The README's "Several hosts" commands, found by their first words (`tessera control`,
 * `curl`), split into words with `$VARS` replaced: the lab runs what the README tells
 * operators to run. `ca.pem` (a file the operator copied) is `caFile`.
 */
export function readmeCommand(start: string, vars: Record<string, string>, caFile?: string): string[] {
  const readme = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Several hosts"));
  const block = section.slice(section.indexOf("```sh") + 5, section.indexOf("```", section.indexOf("```sh") + 5));
  const line = block.split("\n").find((l) => l.startsWith(`${start} `));
  if (!line) throw new Error(`README.md's "Several hosts" has no command starting \`${start}\``);
  return line.split(/\s+/).map((word) =>
    word === "ca.pem" && caFile ? caFile : word.replace(/\$([A-Z_]+)/g, (_, name: string) => {
      if (vars[name] === undefined) throw new Error(`README.md's \`${start}\` uses $${name}, which the lab does not give`);
      return vars[name]!;
    }),
  );
}

/** The control plane's gRPC port on its host, as the README's `tessera control` has it. */
const CONTROL_PORT = 7700;

export interface Host {
  /** The node name its agent takes. */
  name: string;
  /** Its network namespace. */
  ns: string;
  /** Its address on the lab's bridge. */
  address: string;
  /** Its own data dir: no other host reads it. */
  dir: string;
  /** Its port on the switch: down cuts the host off. */
  port: string;
}

/** Why network namespaces cannot be made here, ip being installed, or undefined when they can. */
function namespacesUnavailable(): string | undefined {
  const root = needsRoot("making network namespaces")();
  if (root) return root;
  const probe = `${FAMILY}-${process.pid}-probe`;
  const made = ip(["netns", "add", probe]);
  if (made.code !== 0) return `ip netns add fails here: ${made.out.trim()}`;
  ip(["netns", "del", probe]);
  return undefined;
}

/** Why the lab cannot run here, or undefined when network namespaces can be made. */
export function labUnavailable(): string | undefined {
  return judgeTools(["ip"], namespacesUnavailable, { ci: true }).reason;
}

/**
 * Whether a lab suite runs, its hosts running `tools` too: where namespaces cannot be made or a
 * tool is missing, its tests skip saying why, except under CI (TESSERA_CI=1), where they must
 * run and so fail (at `require()`).
 */
export function labSuite(what: string, tools: SystemTool[] = []): ToolNeed {
  return needTools(what, ["ip", ...tools], namespacesUnavailable);
}

function ip(args: string[]): { code: number; out: string } {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  return { code: r.status ?? 1, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

function mustIp(args: string[]): void {
  const r = ip(args);
  if (r.code !== 0) throw new Error(`ip ${args.join(" ")} failed: ${r.out.trim()}`);
}

/** Ends every process in a namespace, then deletes it. */
function removeNamespace(ns: string): void {
  for (const pid of ip(["netns", "pids", ns]).out.split(/\s+/).filter((p) => /^\d+$/.test(p))) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  ip(["netns", "del", ns]);
}

/** Removes the namespaces and directories of lab runs whose process is gone (crashed, killed). */
function sweepCrashedRuns(): void {
  const mine = new RegExp(`^${FAMILY}-(\\d+)-`);
  for (const line of ip(["netns", "list"]).out.split("\n")) {
    const ns = line.split(" ")[0] ?? "";
    const owner = mine.exec(ns)?.[1];
    if (owner !== undefined && !isAlive(Number(owner))) removeNamespace(ns);
  }
  for (const entry of readdirSync(tmpdir())) {
    const owner = new RegExp(`^${DIR_FAMILY}(\\d+)-`).exec(entry)?.[1];
    if (owner !== undefined && !isAlive(Number(owner))) rmSync(join(tmpdir(), entry), { recursive: true, force: true });
  }
}

export class Lab {
  readonly h: Harness;
  readonly hosts: Host[] = [];
  private readonly run = `${FAMILY}-${process.pid}-${Math.random().toString(36).slice(2, 7)}`;
  private readonly switchNs = `${this.run}-sw`;
  /** A random /24 of 198.18.0.0/15 (the benchmarking range, never one the machine uses). */
  private readonly subnet: string;
  private readonly namespaces: string[] = [];

  /** Makes the switch and one host per name: `names[0]` gets .1, the next .2, and so on. */
  constructor(names: string[]) {
    requireBinary();
    const reason = labUnavailable();
    if (reason) throw new Error(`the lab cannot run: ${reason}`);
    sweepCrashedRuns();
    const block = Math.floor(Math.random() * 512);
    this.subnet = `198.${18 + (block >> 8)}.${block & 255}`;
    this.h = new Harness(`${DIR_FAMILY}${process.pid}-`);
    try {
      this.addNamespace(this.switchNs);
      mustIp(["-n", this.switchNs, "link", "add", "br0", "type", "bridge", "forward_delay", "0"]);
      mustIp(["-n", this.switchNs, "link", "set", "br0", "up"]);
      names.forEach((name, i) => this.addHost(name, i));
    } catch (err) {
      this.removeAll();
      throw err;
    }
  }

  private addNamespace(ns: string): void {
    mustIp(["netns", "add", ns]);
    this.namespaces.push(ns);
    mustIp(["-n", ns, "link", "set", "lo", "up"]);
  }

  private addHost(name: string, i: number): void {
    const host: Host = { name, ns: `${this.run}-${name}`, address: `${this.subnet}.${i + 1}`, dir: join(this.h.dir, name), port: `p${i}` };
    this.addNamespace(host.ns);
    mustIp(["-n", this.switchNs, "link", "add", host.port, "type", "veth", "peer", "name", "eth0", "netns", host.ns]);
    mustIp(["-n", this.switchNs, "link", "set", host.port, "master", "br0", "up"]);
    mustIp(["-n", host.ns, "addr", "add", `${host.address}/24`, "dev", "eth0"]);
    mustIp(["-n", host.ns, "link", "set", "eth0", "up"]);
    // Each host's data dir is its owner's alone, as Tessera requires of one.
    mkdirSync(host.dir, { recursive: true, mode: 0o700 });
    this.hosts.push(host);
  }

  host(name: string): Host {
    const found = this.hosts.find((h) => h.name === name);
    if (!found) throw new Error(`the lab has no host ${name}`);
    return found;
  }

  /** Cuts a host off the network: its processes keep running, unheard. */
  cut(host: Host): void {
    mustIp(["-n", this.switchNs, "link", "set", host.port, "down"]);
  }

  heal(host: Host): void {
    mustIp(["-n", this.switchNs, "link", "set", host.port, "up"]);
  }

  /** Cuts two hosts off from each other only (a blackhole route each way); both still reach the others. */
  cutBetween(x: Host, y: Host): void {
    mustIp(["-n", x.ns, "route", "add", "blackhole", `${y.address}/32`]);
    mustIp(["-n", y.ns, "route", "add", "blackhole", `${x.address}/32`]);
  }

  healBetween(x: Host, y: Host): void {
    mustIp(["-n", x.ns, "route", "del", "blackhole", `${y.address}/32`]);
    mustIp(["-n", y.ns, "route", "del", "blackhole", `${x.address}/32`]);
  }

  /** Starts `tessera ARGS...` on a host, its data dir the host's own. */
  start(host: Host, args: string[]): Server {
    return this.h.start(["netns", "exec", host.ns, BINARY, ...args], { TESSERA_DATA_DIR: host.dir }, "ip");
  }

  /** Runs `tessera ARGS...` on a host to completion. */
  tessera(host: Host, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return this.h.run(["netns", "exec", host.ns, BINARY, ...args], { TESSERA_DATA_DIR: host.dir }, "ip");
  }

  /** Runs any command on a host (curl, dig) to completion. */
  sh(host: Host, command: string[]): { code: number; out: string } {
    const r = spawnSync("ip", ["netns", "exec", host.ns, ...command], { encoding: "utf8", timeout: 10_000 });
    return { code: r.status ?? 1, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
  }

  /** What an operator copies from one host to another (a token, the CA): the bytes, nothing shared. */
  copy(from: Host, file: string, to: Host, as = file): string {
    const bytes = readFileSync(join(from.dir, file));
    writeFileSync(join(to.dir, as), bytes, { mode: 0o600 });
    return join(to.dir, as);
  }

  /** Processes running in a host's namespace. */
  pids(host: Host): number[] {
    return ip(["netns", "pids", host.ns]).out.split(/\s+/).filter((p) => /^\d+$/.test(p)).map(Number);
  }

  /**
   * `tessera control` on a host, as the README's "Several hosts" section starts it: gRPC and
   * the web page on every address of the host. Resolves once both listen.
   */
  async startControl(host: Host, flags: string[] = []): Promise<{ server: Server; address: string }> {
    const server = this.start(host, [...readmeCommand("tessera control", { DATA_DIR: host.dir }).slice(1), ...flags]);
    await server.waitForLog((l) => l.msg === "control plane listening");
    await server.waitForLog((l) => l.msg === "http listening");
    return { server, address: `${host.address}:${CONTROL_PORT}` };
  }

  /**
   * `tessera agent` on a host, enrolling with the control plane's join token and CA hash only;
   * given `others`, it is told of those control planes too (`--control a:7700,b:7700,…`).
   */
  startAgent(host: Host, control: Host, flags: string[] = [], others: Host[] = []): Server {
    const vars = { CONTROL_HOST: [control, ...others].map((c) => c.address).join(`:${CONTROL_PORT},`), NAME: host.name, DATA_DIR: host.dir, JOIN_TOKEN: readFileSync(join(control.dir, "join-token"), "utf8").trim(), CA_HASH: caHashIn(control) };
    return this.start(host, [...readmeCommand("tessera agent", vars).slice(1), ...flags]);
  }

  /**
   * `tessera ctl ARGS...` on a host, connected as the README's does it: the admin token and a
   * copy of the CA; given `others`, it is told of those control planes too, after `control`.
   */
  async ctl(host: Host, control: Host, args: string[], others: Host[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
    const readme = readmeCommand("tessera ctl", { CONTROL_HOST: [control, ...others].map((c) => c.address).join(`:${CONTROL_PORT},`), ADMIN_TOKEN: readFileSync(join(control.dir, "admin-token"), "utf8").trim() }, this.caCopy(host, control));
    return this.tessera(host, ["ctl", ...args, ...readme.slice(readme.indexOf("--control"))]);
  }

  /** The README's curl of the control plane's web page, from a host. */
  curlWebPage(host: Host, control: Host): { code: number; out: string } {
    return this.sh(host, [...readmeCommand("curl", { CONTROL_HOST: control.address }, this.caCopy(host, control)), "-fsS", "--max-time", "5"]);
  }

  /** The control plane's CA as an operator copied it to a host (its ca.pem), copied on first use. */
  private caCopy(host: Host, control: Host): string {
    const file = join(host.dir, "ca.pem");
    return existsSync(file) ? file : this.copy(control, join("pki", "ca.pem"), host, "ca.pem");
  }

  /** Stops every process the lab started, then removes its namespaces and directories. */
  async stop(): Promise<void> {
    try {
      await this.h.stop();
    } finally {
      this.removeAll();
    }
  }

  private removeAll(): void {
    for (const ns of this.namespaces.splice(0).reverse()) removeNamespace(ns);
    if (existsSync(this.h?.dir ?? "")) rmSync(this.h.dir, { recursive: true, force: true });
  }
}

/** Live copies of a workload on a host, by instance id (a shim and what it runs count once: the shim). */
export function copiesOn(host: Host, workload: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const p of instanceProcesses(host.dir)) {
    if (p.env.TESSERA_WORKLOAD !== workload) continue;
    const id = p.env.TESSERA_INSTANCE_ID ?? p.env.TESSERA_INSTANCE ?? "";
    const prev = found.get(id);
    if (prev === undefined || p.pid < prev) found.set(id, p.pid);
  }
  return found;
}

/** The CA hash a control plane prints at its first start, read from the CA it wrote. */
export function caHashIn(host: Host): string {
  return caHashOf(readFileSync(join(host.dir, "pki", "ca.pem"), "utf8"));
}
