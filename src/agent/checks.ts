/**
 * Readiness checks, run by the agent next to each running instance: exec (a command in the
 * instance's environment), http (GET, 2xx/3xx passes) and tcp (a connection passes). A
 * check's verdict is reported once `success_threshold` passes or `failure_threshold` failures
 * in a row settle it, at its first and at each flip; a failing readiness check is reported
 * again when what its probe says changes, since that is why its copy is not Ready (the control
 * plane shows it as the copy's reason and records it in the history).
 */
import { durationMs } from "../core/model/spec.js";
import type { Check } from "../gen/tessera/v1/types.js";
import type { StartRequest } from "./executor.js";

/** A probe's port: a number, or the name of one of the copy's ports. */
export interface ProbePort {
  port: number;
  portName: string;
}

export interface ProbeTarget {
  /**
   * Where an http or tcp check of `port` connects, in order: the next address is tried only
   * when one refuses the connection (nothing listens there).
   */
  addressesOf(port: ProbePort): string[];
  /** The port a check naming each of the spec's ports connects to (a container's own port for images). */
  ports: Record<string, number>;
  /** Runs a command in the instance's environment; resolves with its exit code. */
  exec(command: string, args: string[], timeoutMs: number): Promise<number>;
}

const DEFAULTS = { intervalMs: 5_000, timeoutMs: 1_000, initialDelayMs: 0, successThreshold: 1, failureThreshold: 3 };

/** One probe's result: whether it passed, and a line saying what happened (why, when it failed). */
export interface ProbeResult {
  passed: boolean;
  detail: string;
}

/** A connection attempt at one address; `refused`: nothing listens there, so the next may be tried. */
type Attempt = ProbeResult & { refused?: boolean };

/** Why a connection or request failed, in a few words. */
function whyNot(err: unknown, timeoutMs: number): string {
  const e = err as { code?: string; name?: string; message?: string };
  if (e.code === "ECONNREFUSED") return "connection refused";
  if (e.name === "TimeoutError") return `no answer within ${timeoutMs} ms`;
  return e.message ?? String(err);
}

/** Tries each address until one does not refuse; when all refuse, says so of each. */
async function atFirstListening(addresses: string[], attempt: (host: string) => Promise<Attempt>): Promise<ProbeResult> {
  const refused: string[] = [];
  for (const host of addresses) {
    const a = await attempt(host);
    if (!a.refused) return { passed: a.passed, detail: a.detail };
    refused.push(a.detail);
  }
  return { passed: false, detail: refused.join("; ") };
}

/** One probe: whether it passed, and a line saying what happened. */
export async function probe(check: Check, target: ProbeTarget): Promise<ProbeResult> {
  const timeoutMs = durationMs(check.timeout) ?? DEFAULTS.timeoutMs;
  switch (check.probe?.$case) {
    case "exec": {
      const { command, args } = check.probe.value;
      try {
        const code = await target.exec(command, args, timeoutMs);
        return { passed: code === 0, detail: `${command}: exit code ${code}` };
      } catch (err) {
        return { passed: false, detail: `${command}: ${(err as Error).message}` };
      }
    }
    case "http": {
      const http = check.probe.value;
      const port = portOf(http, target);
      return atFirstListening(target.addressesOf(http), async (host) => {
        const url = `http://${host}:${port}${http.path || "/"}`;
        try {
          const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
          await res.body?.cancel();
          return { passed: res.status >= 200 && res.status < 400, detail: `GET ${url}: ${res.status}` };
        } catch (err) {
          return { passed: false, refused: (err as { code?: string }).code === "ECONNREFUSED", detail: `GET ${url}: ${whyNot(err, timeoutMs)}` };
        }
      });
    }
    case "tcp": {
      const tcp = check.probe.value;
      const port = portOf(tcp, target);
      return atFirstListening(target.addressesOf(tcp), async (host) => {
        try {
          const socket = await Promise.race([
            Bun.connect({ hostname: host, port, socket: { data() {} } }),
            Bun.sleep(timeoutMs).then(() => {
              throw Object.assign(new Error("timed out"), { name: "TimeoutError" });
            }),
          ]);
          socket.end();
          return { passed: true, detail: `connected to ${host}:${port}` };
        } catch (err) {
          return { passed: false, refused: (err as { code?: string }).code === "ECONNREFUSED", detail: `tcp ${host}:${port}: ${whyNot(err, timeoutMs)}` };
        }
      });
    }
    default:
      return { passed: false, detail: "the check has no probe" };
  }
}

/** A probe's port: its number, or the copy's port of that name (validation made sure it has one). */
function portOf(probe: ProbePort, target: ProbeTarget): number {
  return probe.portName === "" ? probe.port : (target.ports[probe.portName] ?? 0);
}

/** Whether a check restarts its copy (liveness) rather than deciding readiness. */
export function isLiveness(check: Check): boolean {
  return check.role === 2; // CHECK_ROLE_LIVENESS
}

/**
 * Runs an instance's checks until stopped; `report` hears each verdict as it settles and flips,
 * and a failing readiness check's new reasons. A liveness check starts out passing (the copy
 * just started) and reports when it fails.
 */
export function runChecks(req: StartRequest, target: ProbeTarget, report: (check: Check, passing: boolean, detail: string) => void): () => void {
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  let stopped = false;
  for (const check of req.spec.checks ?? []) {
    const interval = durationMs(check.interval) ?? DEFAULTS.intervalMs;
    const successes = check.successThreshold || DEFAULTS.successThreshold;
    const failures = check.failureThreshold || DEFAULTS.failureThreshold;
    const liveness = isLiveness(check);
    /** The verdict last reported (a readiness check has none until its first settles), and its detail. */
    let verdict: boolean | undefined = liveness ? true : undefined;
    let said = "";
    /** The latest probes' result and how many in a row gave it. */
    let run = { passed: false, count: 0 };
    const tick = async () => {
      if (stopped) return;
      const result = await probe(check, target);
      if (stopped) return;
      run = result.passed === run.passed ? { passed: run.passed, count: run.count + 1 } : { passed: result.passed, count: 1 };
      const settled = run.count >= (result.passed ? successes : failures);
      if (settled && (result.passed !== verdict || (!result.passed && !liveness && result.detail !== said))) {
        verdict = result.passed;
        said = result.detail;
        report(check, result.passed, result.detail);
      }
      timers.set(check.name, setTimeout(tick, interval));
    };
    timers.set(check.name, setTimeout(tick, durationMs(check.initialDelay) ?? DEFAULTS.initialDelayMs));
  }
  return () => {
    stopped = true;
    for (const t of timers.values()) clearTimeout(t);
  };
}
