/**
 * Whether another program holds a process copy's host port, asked of the kernel just before
 * the copy starts (shell: it binds sockets). Placement only knows the ports Tessera gave out; a port some
 * other program listens on would otherwise show as the copy crashing ("exited with code 1"),
 * with the real reason buried in its output. Binding the port for a moment and letting go is a
 * check, not a reservation: a program taking it in between still makes the copy fail, with
 * its own error.
 */
import { createServer } from "node:net";
import type { AssignedPort } from "../core/model/ports.js";

async function bindable(port: AssignedPort, address: string): Promise<boolean> {
  if (port.protocol === "udp") {
    // Bun's UDP socket rather than node:dgram, as in dns-server.ts.
    try {
      (await Bun.udpSocket({ hostname: address, port: port.hostPort })).close();
      return true;
    } catch {
      return false;
    }
  }
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port: port.hostPort, host: address, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Throws, naming the port, when another program holds one of `ports` on `address`. */
export async function assertPortsFree(ports: readonly AssignedPort[], address: string): Promise<void> {
  for (const p of ports) {
    if (!(await bindable(p, address))) throw new Error(`port ${p.hostPort}/${p.protocol} on ${address} (${p.name}) is taken by another program`);
  }
}
