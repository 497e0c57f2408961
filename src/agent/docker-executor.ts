/**
 * Runs workloads as Docker containers through dockerode against a real engine
 * (/var/run/docker.sock, or DOCKER_HOST). Containers carry labels naming node, workload,
 * instance and generation, so a restarted agent finds its own; env, CPU and memory limits
 * come from the spec, mounts from container-mounts.ts. Stop = docker stop with the grace
 * period, then remove. A container that ran has its output copied out to ended-logs.ts when it exits, before
 * anything removes it, so `logs` of a removed container reads that copy.
 */
import { PassThrough } from "node:stream";
import Docker from "dockerode";
import { type FileOwner, fileOwnerOf } from "../core/model/file-owner.js";
import { resolveSpec } from "../core/model/spec.js";
import { boundStderrTail, STDERR_TAIL_LINES } from "../core/output/stderr-tail.js";
import type { ProbeTarget } from "./checks.js";
import { mountsOf } from "./container-mounts.js";
import { EndedLogs } from "./ended-logs.js";
import { type Adopted, type CopyCounters, copyEnvironment, type ExecProcess, type ExecRequest, type Executor, type Exit, type LogRequest, NoOutputRecorded, type Running, type StartRequest, splitLines } from "./executor.js";

const LABEL = {
  node: "tessera.node",
  workload: "tessera.workload",
  instance: "tessera.instance",
  name: "tessera.name",
  generation: "tessera.generation",
} as const;

/** How long copying an ended container's output out may take (a slow engine, gigabytes printed). */
const COPY_OUT_MS = 10_000;

export function containerName(instanceId: string): string {
  return `tessera-${instanceId}`;
}

function statusCode(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

export class DockerExecutor implements Executor {
  readonly kinds = ["docker"];
  private readonly endedLogs: EndedLogs;

  constructor(
    private readonly node: string,
    /** The agent's data dir (DATA_DIR/agent): ended containers' output is kept under it. */
    dataDir: string,
    private readonly docker: Docker = new Docker(),
  ) {
    this.endedLogs = new EndedLogs(dataDir);
  }

  /** Fails with a clear message when no engine answers. */
  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (err) {
      throw new Error(`no Docker engine answers (${process.env.DOCKER_HOST ?? "/var/run/docker.sock"}): ${(err as Error).message}`);
    }
  }

  private async pull(image: string): Promise<void> {
    try {
      const stream = await this.docker.pull(image);
      await new Promise<void>((resolve, reject) => this.docker.modem.followProgress(stream, (e: Error | null) => (e ? reject(e) : resolve())));
    } catch (err) {
      throw new Error(`image ${image} is not present on node ${this.node} and cannot be pulled: ${(err as Error).message}`);
    }
  }

  /** Its image's USER when numeric (the image pulled first when absent): whose the copy's secret files are. */
  async fileOwner(req: StartRequest): Promise<FileOwner | undefined> {
    const image = this.docker.getImage(req.spec.image);
    const info = await image.inspect().catch(async (err: unknown) => {
      if (statusCode(err) !== 404) throw err;
      await this.pull(req.spec.image);
      return image.inspect();
    });
    return fileOwnerOf(info.Config?.User ?? "");
  }

  async start(req: StartRequest): Promise<Running> {
    const spec = req.spec;
    const resources = resolveSpec(spec);
    const copy = copyEnvironment(req);
    // Each port published on the node's advertised address: host port → the container's port.
    const published = req.ports.map((p) => ({ key: `${p.containerPort || p.hostPort}/${p.protocol}`, binding: { HostIp: req.hostIp, HostPort: String(p.hostPort) } }));
    const container = await this.create({
      name: containerName(req.instanceId),
      Image: spec.image,
      Entrypoint: spec.command !== "" ? [spec.command] : undefined,
      Cmd: copy.args.length > 0 ? copy.args : undefined,
      Env: Object.entries(copy.env).map(([k, v]) => `${k}=${v}`),
      WorkingDir: copy.workingDir || undefined,
      ExposedPorts: published.length > 0 ? Object.fromEntries(published.map((p) => [p.key, {}])) : undefined,
      Labels: {
        [LABEL.node]: this.node,
        [LABEL.workload]: req.workload,
        [LABEL.instance]: req.instanceId,
        [LABEL.name]: req.name,
        [LABEL.generation]: String(req.generation),
      },
      HostConfig: {
        NanoCpus: resources.cpuMillis * 1_000_000,
        Memory: resources.memoryMb * 1024 * 1024,
        PortBindings: published.length > 0 ? Object.fromEntries(published.map((p) => [p.key, [p.binding]])) : undefined,
        Mounts: mountsOf(req),
      },
    });
    try {
      await container.start();
    } catch (err) {
      await container.remove({ force: true }).catch(() => {});
      throw new Error(`cannot start container for ${req.instanceId}: ${(err as Error).message}`);
    }
    return this.handle(container, req.instanceId);
  }

  /**
   * Creates a container with one engine call on the usual path. A burst of starts keeps the
   * engine's CPU busy, so asking first whether the image is there and removing a leftover by
   * name (a 200 and a 404 nearly every time) delayed every start; instead the rare cases are
   * handled when create reports them, once each: a missing image (404) is pulled, and a
   * container left by an earlier attempt at this same instance (409, name in use) is replaced.
   */
  private async create(options: Docker.ContainerCreateOptions & { name: string; Image: string }): Promise<Docker.Container> {
    let pulled = false;
    let replaced = false;
    for (;;) {
      try {
        return await this.docker.createContainer(options);
      } catch (err) {
        if (statusCode(err) === 404 && !pulled) {
          pulled = true;
          await this.pull(options.Image);
        } else if (statusCode(err) === 409 && !replaced) {
          replaced = true;
          await this.docker
            .getContainer(options.name)
            .remove({ force: true })
            .catch(() => {});
        } else throw err;
      }
    }
  }

  private handle(container: Docker.Container, instanceId: string): Running {
    // Its output and the tail are read before anything removes the container (stop() removes it after this).
    const exited: Promise<Exit> = container.wait().then(
      async (r: { StatusCode: number }) => {
        await this.keepOutput(container, instanceId, Date.now());
        return { exitCode: r.StatusCode, signal: null, stderrTail: await stderrTailOf(container), ...(await oomOf(container)) };
      },
      (err: Error) => ({ exitCode: null, signal: `lost track of the container: ${err.message}` }),
    );
    return {
      exited,
      async stop(gracePeriodMs) {
        await container.stop({ t: Math.ceil(gracePeriodMs / 1000) }).catch((err) => {
          // 304: already stopped; 404: already gone.
          if (statusCode(err) !== 304 && statusCode(err) !== 404) throw err;
        });
        const exit = await exited;
        await container.remove({ force: true }).catch(() => {});
        return exit;
      },
      async signal(name) {
        await container.kill({ signal: name });
      },
    };
  }

  /**
   * Takes over running containers and removes the rest. An agent killed between create and
   * start leaves containers in state "created", some with a start still in flight in the
   * engine: inspected again, one that runs by now is adopted; one that never ran is reported
   * as not started, not with the exit code 0 the engine shows for it (under restart policy
   * on_failure that read as completed, and the copy was never replaced).
   */
  async adopt(): Promise<Adopted[]> {
    const containers = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL.node}=${this.node}`] } });
    const found: Adopted[] = [];
    for (const info of containers) {
      const instanceId = info.Labels[LABEL.instance];
      if (!instanceId) continue;
      const generation = Number(info.Labels[LABEL.generation] ?? 0);
      const container = this.docker.getContainer(info.Id);
      const state = info.State === "running" ? undefined : (await container.inspect()).State;
      if (state === undefined || state.Running) {
        found.push({ instanceId, generation, running: this.handle(container, instanceId) });
        continue;
      }
      const ran = state.Status !== "created";
      if (ran) await this.keepOutput(container, instanceId, Date.parse(state.FinishedAt) || Date.now());
      const stderrTail = ran ? await stderrTailOf(container) : undefined;
      await container.remove({ force: true }).catch(() => {});
      found.push({ instanceId, generation, exit: ran ? { exitCode: state.ExitCode, signal: null, stderrTail, ...(await oomOf(container)) } : { exitCode: null, signal: "unknown (not started: the agent stopped between create and start)" } });
    }
    return found;
  }

  /**
   * Copies a container's output (both streams, in order) to the ended copies', its last
   * `maxBytes` only: it is streamed, so a container that printed gigabytes costs no more memory,
   * and cut off after COPY_OUT_MS, since the copy's end is reported only after it. A container
   * gone already has nothing to copy; the copy is a courtesy, never a reason to fail.
   */
  private async keepOutput(container: Docker.Container, instanceId: string, endedAt: number): Promise<void> {
    const max = this.endedLogs.maxBytes;
    try {
      // Following an exited container's output ends with what it printed.
      const stream = await container.logs({ stdout: true, stderr: true, follow: true });
      const chunks: Buffer[] = [];
      let size = 0;
      const out = new PassThrough();
      out.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        while (size - chunks[0]!.length >= max) size -= chunks.shift()!.length;
      });
      this.docker.modem.demuxStream(stream, out, out);
      await new Promise<void>((resolve, reject) => {
        const cutOff = setTimeout(() => (stream as unknown as { destroy(): void }).destroy(), COPY_OUT_MS);
        // Destroyed at the cut-off: what came until then is kept.
        stream.on("close", () => out.end());
        stream.on("end", () => out.end());
        stream.on("error", (err: Error) => {
          clearTimeout(cutOff);
          reject(err);
        });
        out.on("end", () => {
          clearTimeout(cutOff);
          resolve();
        });
      });
      this.endedLogs.keepOutput(instanceId, Buffer.concat(chunks), endedAt);
    } catch {
      // Nothing kept: `logs` of it says there is no output.
    }
  }

  housekeeping(): void {}

  /** The engine's stats of this node's running containers (one-shot: no second sample waited for). */
  async usage(): Promise<CopyCounters[]> {
    const running = await this.docker.listContainers({ filters: { label: [`${LABEL.node}=${this.node}`], status: ["running"] } });
    const out: CopyCounters[] = [];
    for (const info of running) {
      const instanceId = info.Labels[LABEL.instance];
      if (!instanceId) continue;
      try {
        const stats = (await this.docker.getContainer(info.Id).stats({ stream: false, "one-shot": true } as { stream: false })) as unknown as EngineStats;
        const inactive = stats.memory_stats.stats?.inactive_file ?? stats.memory_stats.stats?.total_inactive_file ?? 0;
        out.push({ instanceId, cpuNanos: stats.cpu_stats.cpu_usage.total_usage, memoryBytes: Math.max(0, (stats.memory_stats.usage ?? 0) - inactive) });
      } catch {
        // Ended meanwhile.
      }
    }
    return out;
  }

  async probeTarget(req: StartRequest): Promise<ProbeTarget> {
    const container = this.docker.getContainer(containerName(req.instanceId));
    const info = await container.inspect();
    const networks = Object.values(info.NetworkSettings.Networks ?? {});
    const address = networks.find((n) => n.IPAddress)?.IPAddress || "127.0.0.1";
    return {
      addressesOf: () => [address],
      // Checks reach the container on its own network address, so on its own ports.
      ports: Object.fromEntries(req.ports.map((p) => [p.name, p.containerPort || p.hostPort])),
      async exec(command, args, timeoutMs) {
        const exec = await container.exec({ Cmd: [command, ...args], AttachStdout: false, AttachStderr: false });
        await exec.start({ Detach: true });
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const state = await exec.inspect();
          if (!state.Running) return state.ExitCode ?? 1;
          if (Date.now() > deadline) return 124;
          await Bun.sleep(50);
        }
      },
    };
  }

  /**
   * `docker exec -i`: the engine's hijacked connection carries stdin up and the multiplexed
   * output down; ending stdin half-closes it, so output written after that still arrives. The
   * engine has no call to signal an exec, so a signal goes to its process by the host pid
   * that inspect reports (the agent runs on the engine's host).
   */
  async exec(req: ExecRequest): Promise<ExecProcess> {
    const container = this.docker.getContainer(containerName(req.instanceId));
    let exec: Docker.Exec;
    try {
      exec = await container.exec({ Cmd: req.command, AttachStdin: req.stdin, AttachStdout: true, AttachStderr: true, Tty: false });
    } catch (err) {
      if (statusCode(err) === 404 || statusCode(err) === 409) throw new Error(`instance ${req.instanceId} is not running on this node`);
      throw err;
    }
    const socket = (await exec.start({ hijack: true, stdin: req.stdin })) as unknown as NodeJS.ReadWriteStream & { destroy(): void };
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdout.on("data", (d: Buffer) => req.output("stdout", d));
    stderr.on("data", (d: Buffer) => req.output("stderr", d));
    this.docker.modem.demuxStream(socket, stdout, stderr);
    const exited = new Promise<void>((resolve) => {
      socket.on("end", resolve);
      socket.on("close", resolve);
      socket.on("error", () => resolve());
    }).then(async (): Promise<Exit> => ({ exitCode: (await exec.inspect()).ExitCode ?? null, signal: null }));
    return {
      exited,
      write: (data) => void socket.write(data),
      endInput: () => void socket.end(),
      signal: (name) =>
        void exec.inspect().then(
          (info) => info.Running && info.Pid > 0 && process.kill(info.Pid, name),
          () => {},
        ),
    };
  }

  async readLogs(req: LogRequest): Promise<void> {
    const container = this.docker.getContainer(containerName(req.instanceId));
    const tail = req.tail > 0 ? req.tail : undefined;
    let carry = "";
    const emit = (chunk: Buffer) => {
      const next = splitLines(carry, chunk.toString());
      carry = next.rest;
      if (next.lines.length > 0) req.emit(next.lines);
    };
    try {
      if (!req.follow) {
        const buf = await container.logs({ stdout: true, stderr: true, follow: false, tail });
        demuxBuffer(buf, emit);
        if (carry !== "") req.emit([carry]);
        return;
      }
      const stream = await container.logs({ stdout: true, stderr: true, follow: true, tail });
      const out = new PassThrough();
      out.on("data", emit);
      this.docker.modem.demuxStream(stream, out, out);
      await new Promise<void>((resolve) => {
        req.signal.addEventListener("abort", () => {
          (stream as unknown as { destroy(): void }).destroy();
          resolve();
        });
        stream.on("end", resolve);
        stream.on("error", () => resolve());
      });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      if (await this.endedLogs.read(req.instanceId, req.tail, req.emit)) return;
      throw new NoOutputRecorded(req.instanceId, "no container of it here, and none of its output kept");
    }
  }
}

/** The last lines a container wrote to stderr, bounded like a process's; unset when the engine cannot tell. */
async function stderrTailOf(container: Docker.Container): Promise<string | undefined> {
  try {
    const buf = await container.logs({ stdout: false, stderr: true, follow: false, tail: STDERR_TAIL_LINES });
    const parts: Buffer[] = [];
    demuxBuffer(buf, (payload) => parts.push(payload));
    return boundStderrTail(Buffer.concat(parts).toString("utf8"));
  } catch {
    return undefined;
  }
}

/** Splits a non-TTY docker log buffer (8-byte frame headers) into its payloads. */
function demuxBuffer(buf: Buffer, write: (payload: Buffer) => void): void {
  let at = 0;
  while (at + 8 <= buf.length) {
    const size = buf.readUInt32BE(at + 4);
    write(buf.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
}

/** Whether the engine's OOM killer ended the container at its memory limit (Docker's State.OOMKilled), as an Exit field. */
async function oomOf(container: Docker.Container): Promise<{ oomKilledAtMb?: number }> {
  try {
    const info = await container.inspect();
    return info.State.OOMKilled && info.HostConfig.Memory ? { oomKilledAtMb: Math.round(info.HostConfig.Memory / (1024 * 1024)) } : {};
  } catch {
    return {};
  }
}

/** The parts of the engine's container stats usage reads (cgroup v1 names the cache total_inactive_file, v2 inactive_file). */
interface EngineStats {
  cpu_stats: { cpu_usage: { total_usage: number } };
  memory_stats: { usage?: number; stats?: { inactive_file?: number; total_inactive_file?: number } };
}
