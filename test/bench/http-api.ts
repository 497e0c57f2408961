/**
 * Benchmark 13, the HTTP/JSON API (issue 34): GET /v1/workloads/{name} against the gRPC
 * GetWorkload it transcodes, one workload on a BenchCluster (dist/tessera control, one simulated
 * agent), sampled alternately from this process. Each side has its floor, served in this process
 * with the same answer and no work: a bare Bun.serve for HTTP, a bare grpc-js unary call over TLS
 * for gRPC (floor.ts). The API's HTTP listener is plain HTTP on loopback and gRPC is TLS, as
 * the control plane serves them; the floors show what each transport costs alone.
 */
import { GetWorkloadResponse } from "../../src/gen/tessera/v1/control_plane.js";
import { BenchCluster } from "./fleet.js";
import { startFloor } from "./floor.js";
import { cells, percentile, round, type Section, stats, verdict } from "./report.js";

const WORKLOAD = "web";
const GOAL_RATIO = 1.5;

export interface HttpApiRun {
  /** p50 and p99 of each side, ms. */
  httpP50: number;
  httpP99: number;
  grpcP50: number;
  grpcP99: number;
  httpFloorP50: number;
  grpcFloorP50: number;
}

/** A bare HTTP server on loopback answering every request with `body` as JSON. */
function startHttpFloor(body: string) {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(body, { headers: { "content-type": "application/json" } }) });
  return { url: `http://127.0.0.1:${server.port}/v1/workloads/${WORKLOAD}`, stop: () => server.stop(true) };
}

/** One timed GET, its body read and parsed as a client would; throws unless 200. */
async function timedGet(url: string, headers: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url, { headers });
  const body = await res.json();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${JSON.stringify(body)}`);
  return ms;
}

/** `batches` × `samples` alternating samples of the four calls on one cluster; one HttpApiRun per batch. */
export async function runHttpApi(batches: number, samples: number): Promise<HttpApiRun[]> {
  const c = await BenchCluster.start(1);
  try {
    const running = c.untilWorkloadRunning(WORKLOAD);
    await c.apply(WORKLOAD);
    await running;
    const getWorkload = () =>
      new Promise<number>((resolve, reject) => {
        const t0 = performance.now();
        c.client.getWorkload({ name: WORKLOAD }, (err) => (err ? reject(err) : resolve(performance.now() - t0)));
      });
    // The floors answer what the real calls answer: the size of the answer is part of the cost.
    const answer = await new Promise<GetWorkloadResponse>((resolve, reject) => c.client.getWorkload({ name: WORKLOAD }, (err, r) => (err ? reject(err) : resolve(r))));
    const grpcFloor = await startFloor(c.controlDir, () => Buffer.from(GetWorkloadResponse.encode(answer).finish()));
    const { url, adminToken } = c.web;
    const api = `${url}v1/workloads/${WORKLOAD}`;
    const auth = { authorization: `Bearer ${adminToken}` };
    const httpFloor = startHttpFloor(await (await fetch(api, { headers: auth })).text());
    try {
      const out: HttpApiRun[] = [];
      for (let b = 0; b < batches; b++) {
        const http: number[] = [];
        const grpc: number[] = [];
        const hf: number[] = [];
        const gf: number[] = [];
        for (let i = 0; i < samples; i++) {
          http.push(await timedGet(api, auth));
          grpc.push(await getWorkload());
          hf.push(await timedGet(httpFloor.url, auth));
          gf.push(await grpcFloor.roundTrip());
        }
        out.push({ httpP50: percentile(http, 50), httpP99: percentile(http, 99), grpcP50: percentile(grpc, 50), grpcP99: percentile(grpc, 99), httpFloorP50: percentile(hf, 50), grpcFloorP50: percentile(gf, 50) });
      }
      return out;
    } finally {
      httpFloor.stop();
      grpcFloor.close();
    }
  } finally {
    await c.stop();
  }
}

const SAMPLES = 1_000;

export async function benchHttpApi(runs: number): Promise<Section> {
  const batches = await runHttpApi(runs, SAMPLES);
  const of = (key: keyof HttpApiRun) => stats(batches.map((b) => b[key]));
  const s = { httpP50Ms: of("httpP50"), httpP99Ms: of("httpP99"), grpcP50Ms: of("grpcP50"), grpcP99Ms: of("grpcP99"), httpFloorP50Ms: of("httpFloorP50"), grpcFloorP50Ms: of("grpcFloorP50") };
  // Per run, HTTP's p50 over gRPC's in the same run; the goal is judged on their median.
  const perRun = stats(batches.map((b) => b.httpP50 / b.grpcP50));
  const ratio = round(perRun.median, 2);
  return {
    name: "http-api",
    order: 13,
    results: { samplesPerRun: SAMPLES, goalRatio: GOAL_RATIO, ...s, httpOverGrpc: perRun, batches },
    markdown: `## 13. HTTP/JSON API: GET /v1/workloads/{name} against gRPC GetWorkload

One workload (one replica, Running on one simulated agent) read ${SAMPLES.toLocaleString("en")} times per run over each
way, alternating, from the benchmark's process with one connection each (fetch's keep-alive; one
grpc-js channel): \`GET /v1/workloads/${WORKLOAD}\` with a bearer token on the control plane's HTTP
listener (plain HTTP: it is on loopback) and the gRPC GetWorkload over TLS, each answer read
and decoded (JSON, protobuf). Floors, in the same process and the same loop: a bare Bun.serve
answering the same JSON body, and a bare grpc-js unary call over TLS answering the same bytes.
The ratio is taken per run, HTTP's p50 over gRPC's.

| measure | median | min | max | × floor | goal |
|---|---|---|---|---|---|
| HTTP GET /v1/workloads/{name}, p50 | ${cells(s.httpP50Ms, "ms")} | ${round(s.httpP50Ms.median / s.httpFloorP50Ms.median, 1)} | |
| gRPC GetWorkload, p50 | ${cells(s.grpcP50Ms, "ms")} | ${round(s.grpcP50Ms.median / s.grpcFloorP50Ms.median, 1)} | |
| HTTP / gRPC, p50, per run | ${cells(perRun, "×")} | | ≤ ${GOAL_RATIO}× ${verdict(ratio <= GOAL_RATIO)} |
| HTTP, p99 | ${cells(s.httpP99Ms, "ms")} | | |
| gRPC, p99 | ${cells(s.grpcP99Ms, "ms")} | | |
| floor: bare HTTP GET, same body, p50 | ${cells(s.httpFloorP50Ms, "ms")} | 1 | |
| floor: bare grpc-js unary over TLS, same bytes, p50 | ${cells(s.grpcFloorP50Ms, "ms")} | 1 | |
`,
  };
}
