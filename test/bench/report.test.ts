/**
 * The benchmarks' CPU accounting: a server's CPU counts its children's, running or ended, as
 * PostgreSQL's counts the backends serving its connections (section 10's CPU per placement).
 */
import { expect, test } from "bun:test";
import { CLOCK_TICKS_PER_S, cpuTicks, cpuTicksWithChildren } from "./report.js";

/** A child that spends CPU until stopped, so that it is still running when read. */
const busyChild = () => Bun.spawn(["sh", "-c", "while :; do :; done"], { stdout: "ignore", stderr: "ignore" });

/** Waits, with a deadline, until `read` has grown by `ticks`. */
async function grows(read: () => number, ticks: number): Promise<void> {
  const from = read();
  const deadline = Date.now() + 20_000;
  while (read() - from < ticks) {
    if (Date.now() > deadline) throw new Error(`CPU did not grow by ${ticks} ticks within 20 s`);
    await Bun.sleep(10);
  }
}

test("a parent's CPU with children counts a running child's, and keeps it once the child ended", async () => {
  const child = busyChild();
  /** What the sum holds beyond this process's own CPU (read first: it only grows). */
  const beyondOwn = () => {
    const own = cpuTicks(process.pid);
    return cpuTicksWithChildren(process.pid) - own;
  };
  let spent: number;
  try {
    await grows(() => cpuTicks(child.pid), Math.ceil(CLOCK_TICKS_PER_S / 4));
    spent = cpuTicks(child.pid);
    // Running: counted, though this process (the parent) spent next to nothing meanwhile.
    expect(beyondOwn()).toBeGreaterThanOrEqual(spent);
  } finally {
    child.kill();
  }
  await child.exited;
  // Reaped: its time moved to this process's ended children's, and is still counted.
  expect(beyondOwn()).toBeGreaterThanOrEqual(spent);
});
