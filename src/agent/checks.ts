/**
 * Readiness checks, run by the agent next to each running instance: exec (a command in the
 * instance's environment), http (GET, 2xx/3xx passes) and tcp (a connection passes). A
 * check's verdict flips after `success_threshold` passes or `failure_threshold` failures in
 * a row; each flip is reported to the control plane, which derives the Ready condition.
 */
import { durationMs } from "../core/spec.js";
import type { Check } from "../gen/tessera/v1/types.js";
import type { StartRequest } from "./executor.js";

export interface ProbeTarget {
  /** Address the instance listens on (127.0.0.1 for processes). */
  host: string;
  /** The port a check naming each of the spec's ports connects to (a container's own port for images). */
  ports: Record<string, number>;
  /** Runs a command in the instance's environment; resolves with its exit code. */
  exec(command: string, args: string[], timeoutMs: number): Promise<number>;
}

const DEFAULTS = { intervalMs: 5_000, timeoutMs: 1_000, initialDelayMs: 0, successThreshold: 1, failureThreshold: 3 };

/** One probe: whether it passed, and a line saying what happened. */
export async function probe(check: Check, target: ProbeTarget): Promise<{ passed: boolean; detail: string }> {
  const timeoutMs = durationMs(check.timeout) ?? DEFAULTS.timeoutMs;
  try {
    switch (check.probe?.$case) {
      case "exec": {
        const code = await target.exec(check.probe.value.command, check.probe.value.args, timeoutMs);
        return { passed: code === 0, detail: `exit code ${code}` };
      }
      case "http": {
        const url = `http://${target.host}:${portOf(check.probe.value, target)}${check.probe.value.path || "/"}`;
        const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
        await res.body?.cancel();
        return { passed: res.status >= 200 && res.status < 400, detail: `GET ${url}: ${res.status}` };
      }
      case "tcp": {
        const port = portOf(check.probe.value, target);
        const socket = await Promise.race([
          Bun.connect({ hostname: target.host, port, socket: { data() {} } }),
          Bun.sleep(timeoutMs).then(() => {
            throw new Error(`no connection within ${timeoutMs} ms`);
          }),
        ]);
        socket.end();
        return { passed: true, detail: `connected to ${target.host}:${port}` };
      }
      default:
        return { passed: false, detail: "the check has no probe" };
    }
  } catch (err) {
    return { passed: false, detail: (err as Error).message };
  }
}

/** A probe's port: its number, or the copy's port of that name (validation made sure it has one). */
function portOf(probe: { port: number; portName: string }, target: ProbeTarget): number {
  return probe.portName === "" ? probe.port : (target.ports[probe.portName] ?? 0);
}

/** Whether a check restarts its copy (liveness) rather than deciding readiness. */
export function isLiveness(check: Check): boolean {
  return check.role === 2; // CHECK_ROLE_LIVENESS
}

/**
 * Runs an instance's checks until stopped; `report` hears each verdict change. A liveness
 * check starts out passing (the copy just started) and reports when it fails.
 */
export function runChecks(req: StartRequest, target: ProbeTarget, report: (check: Check, passing: boolean, detail: string) => void): () => void {
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  let stopped = false;
  for (const check of req.spec.checks ?? []) {
    const interval = durationMs(check.interval) ?? DEFAULTS.intervalMs;
    const successes = check.successThreshold || DEFAULTS.successThreshold;
    const failures = check.failureThreshold || DEFAULTS.failureThreshold;
    let passing = isLiveness(check);
    let streak = 0;
    const tick = async () => {
      if (stopped) return;
      const result = await probe(check, target);
      if (stopped) return;
      // A streak counts probes that disagree with the current verdict.
      streak = result.passed !== passing ? streak + 1 : 0;
      if (streak >= (passing ? failures : successes)) {
        passing = !passing;
        streak = 0;
        report(check, passing, result.detail);
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
