/**
 * Installs what the tests need from the system (packages.ts), the step `make test` runs first
 * (and so .ci/run): as root with apt-get, the missing packages (one quiet `apt-get update`
 * first) and a Docker engine started when none answers. Elsewhere it installs nothing and says
 * in one line what is missing: the tests needing it skip, each naming it (need.ts).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, openSync, readFileSync, rmSync } from "node:fs";
import { missingProgram, programFound, SYSTEM_PACKAGES } from "./packages.js";

const DOCKERD_LOG = "/tmp/tessera-dockerd.log";
/** What a dockerd that died leaves behind: a new one refuses to start while they are there. */
const DOCKER_PID_FILES = { dockerd: "/var/run/docker.pid", containerd: "/var/run/docker/containerd/containerd.pid" };

function run(command: string[], quiet = false): boolean {
  const r = spawnSync(command[0]!, command.slice(1), { stdio: ["ignore", quiet ? "ignore" : "inherit", "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  return r.status === 0;
}

function installMissing(): void {
  const missing = SYSTEM_PACKAGES.filter((p) => missingProgram(p) !== undefined);
  if (missing.length === 0) return;
  const names = missing.map((p) => p.name);
  const listed = missing.map((p) => `${p.name} (${p.programs.join(", ")})`).join(", ");
  const root = process.getuid?.() === 0;
  if (!root || !programFound("apt-get")) {
    console.log(`system packages: missing ${listed}; not installed (${root ? "no apt-get" : "not root"}): the tests needing them skip, naming them. As root: apt-get install ${names.join(" ")}`);
    return;
  }
  console.log(`system packages: installing ${listed}`);
  if (!run(["apt-get", "update", "-qq"]) || !run(["apt-get", "install", "-y", "-qq", ...names], true)) console.log("system packages: apt-get failed (above); the tests needing them skip, or fail under TESSERA_CI=1");
}

/** A daemon that hangs accepts the connection and never answers: give up on it after 10 s. */
const engineUp = () => programFound("docker") && spawnSync("docker", ["version"], { stdio: "ignore", timeout: 10_000 }).status === 0;

/** Stops the daemon a pid file names, if it still runs under that name, and removes the file. */
function stopByPidFile(name: string, file: string): void {
  const pid = existsSync(file) ? Number(readFileSync(file, "utf8").trim()) : 0;
  const runs = () => pid > 0 && existsSync(`/proc/${pid}/comm`) && readFileSync(`/proc/${pid}/comm`, "utf8").trim() === name;
  if (runs()) {
    process.kill(pid, "SIGTERM");
    for (let waited = 0; runs() && waited < 10_000; waited += 200) Bun.sleepSync(200);
    if (runs()) process.kill(pid, "SIGKILL");
  }
  rmSync(file, { force: true });
}

/**
 * Starts dockerd in the background and waits up to 30 s for it to answer. A session that ended
 * may have left a daemon that does not answer, or its pid files and socket with no daemon: ask
 * the engine, not the files, and clear what they name first.
 */
function startEngine(flags: string[]): boolean {
  for (const [name, file] of Object.entries(DOCKER_PID_FILES)) stopByPidFile(name, file);
  rmSync("/var/run/docker.sock", { force: true });
  const log = openSync(DOCKERD_LOG, "w");
  spawn("dockerd", flags, { detached: true, stdio: ["ignore", log, log] }).unref();
  for (let waited = 0; waited < 30_000; waited += 1000) {
    if (engineUp()) return true;
    Bun.sleepSync(1000);
  }
  const tail = readFileSync(DOCKERD_LOG, "utf8").trimEnd().split("\n").slice(-15).join("\n");
  console.log(`system packages: dockerd ${flags.join(" ")} did not answer within 30 s; its log ends with:\n${tail}`);
  return false;
}

installMissing();
// Where iptables cannot be used (nested containers), the tests need no bridge network.
if (process.getuid?.() === 0 && programFound("dockerd") && !engineUp()) {
  console.log("system packages: no Docker engine answers; starting dockerd");
  if (!startEngine([])) startEngine(["--iptables=false", "--ip6tables=false", "--bridge=none"]);
}
