/**
 * The floor the control plane is compared with: a bare grpc-js unary call (bytes in, the same
 * bytes out or a canned answer, no work) over TLS with the control plane's own certificate,
 * client and server in this process. Whatever Tessera costs above it is Tessera's.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Client, credentials, makeGenericClientConstructor, Server, ServerCredentials, type ServiceDefinition } from "@grpc/grpc-js";
import { CHANNEL_OPTIONS } from "../../src/shell/control-channel.js";

const identity = (b: Buffer) => b;
const ECHO: ServiceDefinition = {
  echo: {
    path: "/bench.Floor/Echo",
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

export interface Floor {
  /** One round trip, ms. */
  roundTrip(payload?: Buffer): Promise<number>;
  close(): void;
}

/**
 * Starts the server on a free loopback port with the certificate in `controlDir`/pki. It answers
 * each request with `reply(request)`: the same bytes by default, or what the real call would
 * answer (its size is part of the cost), made before the clock runs.
 */
export async function startFloor(controlDir: string, reply: (request: Buffer) => Buffer = identity): Promise<Floor> {
  const pki = (f: string) => readFileSync(join(controlDir, "pki", f));
  const server = new Server();
  server.addService(ECHO, { echo: (call: { request: Buffer }, cb: (e: null, r: Buffer) => void) => cb(null, reply(call.request)) });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createSsl(null, [{ private_key: pki("server.key"), cert_chain: pki("server.pem") }]), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const Echo = makeGenericClientConstructor(ECHO, "Floor");
  const client = new Echo(`127.0.0.1:${port}`, credentials.createSsl(pki("ca.pem")), CHANNEL_OPTIONS) as unknown as Client & {
    echo(req: Buffer, cb: (err: Error | null, res: Buffer) => void): void;
  };
  const floor: Floor = {
    roundTrip: (payload = Buffer.alloc(64)) =>
      new Promise((resolve, reject) => {
        const t0 = performance.now();
        client.echo(payload, (err) => (err ? reject(err) : resolve(performance.now() - t0)));
      }),
    close() {
      client.close();
      server.forceShutdown();
    },
  };
  await floor.roundTrip(); // connect and handshake outside any measurement
  return floor;
}
