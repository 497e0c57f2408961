/**
 * The benchmarks' CPU accounting: a server's CPU counts its children's, running or ended, as
 * PostgreSQL's counts the backends serving its connections (section 10's CPU per placement).
 */
import { expect, test } from "bun:test";
import { CLOCK_TICKS_PER_S, cpuTicks, cpuTicksWithChildren } from "./report.js";

/** A quarter second of CPU, in clock ticks. */
const QUARTER_SECOND = Math.ceil(CLOCK_TICKS_PER_S / 4);

/**
 * A child that spends a quarter second of CPU, says "spent", then stays, idle, until stopped: it
 * is still running when read. Resolves once it said so (the test's timeout is the deadline).
 */
async function busyChild(): Promise<Bun.Subprocess<"ignore", "pipe", "ignore">> {
  const script = `for (let u = process.cpuUsage(); u.user + u.system < ${(QUARTER_SECOND / CLOCK_TICKS_PER_S) * 1e6}; u = process.cpuUsage()) {} console.log("spent"); setInterval(() => {}, 1 << 30);`;
  const child = Bun.spawn([process.execPath, "-e", script], { stdin: "ignore", stdout: "pipe", stderr: "ignore" });
  const reader = child.stdout.getReader();
  let said = "";
  while (!said.includes("spent")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the busy child ended before spending its CPU; it said: ${said}`);
    said += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return child;
}

test("a parent's CPU with children counts a running child's, and keeps it once the child ended", async () => {
  const child = await busyChild();
  /** What the sum holds beyond this process's own CPU (read first: it only grows). */
  const beyondOwn = () => {
    const own = cpuTicks(process.pid);
    return cpuTicksWithChildren(process.pid) - own;
  };
  let spent: number;
  try {
    spent = cpuTicks(child.pid);
    expect(spent).toBeGreaterThanOrEqual(QUARTER_SECOND - 1);
    // Running: counted, though this process (the parent) spent next to nothing meanwhile.
    expect(beyondOwn()).toBeGreaterThanOrEqual(spent);
  } finally {
    child.kill();
  }
  await child.exited;
  // Reaped: its time moved to this process's ended children's, and is still counted.
  expect(beyondOwn()).toBeGreaterThanOrEqual(spent);
});
