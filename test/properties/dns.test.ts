/**
 * Invariant 24 (ARCHITECTURE.md): every DNS name the agents answer, but a workload's own,
 * stands for exactly one copy, over random endpoints where replicas have several copies at
 * once (a surge, a held canary, a drain), on several hosts and ports. fast-check, fixed seed.
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import { answerDns, copyLabel, type DnsRecord } from "../../src/core/views/dns-answers.js";
import type { Endpoint } from "../../src/core/views/endpoints.js";
import { instanceSeq } from "../../src/core/model/cluster-state.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261122);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 200);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);

const PORTS = [
  { portName: "http", protocol: "tcp" as const },
  { portName: "dns", protocol: "udp" as const },
];

/** Copies of workload `w`: each a replica index, a host, a port per port name, Ready or not; ids in creation order. */
const copiesArb = fc
  .array(fc.record({ index: fc.integer({ min: 0, max: 3 }), host: fc.integer({ min: 1, max: 3 }), ready: fc.boolean(), basePort: fc.integer({ min: 20000, max: 20100 }), ports: fc.integer({ min: 1, max: 2 }) }), { maxLength: 10 })
  .map((copies) =>
    copies.flatMap((c, seq): Endpoint[] =>
      PORTS.slice(0, c.ports).map((p, k) => ({ workload: "w", instance: `w-${c.index}.${seq + 1}`, name: `w-${c.index}`, node: `n${c.host}`, address: `10.0.0.${c.host}`, hostPort: c.basePort + k, ready: c.ready, ...p })),
    ),
  );

const addressesOf = (records: DnsRecord[]) => records.filter((r) => r.type === "A").map((r) => r.data);

test("24: each SRV target and each copy's name answers that one copy's address; a replica's name, its newest Ready copy's alone", () => {
  fc.assert(
    fc.property(copiesArb, (endpoints) => {
      const ask = (name: string, type: string) => answerDns({ name, type }, (w) => (w === "w" ? endpoints : []));
      for (const { portName, protocol } of PORTS) {
        const srv = ask(`_${portName}._${protocol}.w.tessera`, "SRV");
        const targets = srv.answers.map((r) => (r.type === "SRV" ? r.data.target : ""));
        // One target per Ready copy serving the port: no two copies share one.
        expect(new Set(targets).size).toBe(targets.length);
        expect(targets.length).toBe(endpoints.filter((e) => e.ready && e.portName === portName).length);
        for (const r of srv.answers) {
          if (r.type !== "SRV") continue;
          const copy = endpoints.find((e) => e.portName === portName && `${copyLabel(e)}.w.tessera` === r.data.target)!;
          expect(r.data.port).toBe(copy.hostPort);
          // The target's A records, asked or given as additionals: that copy's host only.
          expect(addressesOf(ask(r.data.target, "A").answers)).toEqual([copy.address]);
          expect(addressesOf(srv.additionals.filter((a) => a.name === r.data.target))).toEqual([copy.address]);
        }
      }
      for (const e of endpoints) {
        expect(addressesOf(ask(`${copyLabel(e)}.w.tessera`, "A").answers)).toEqual(e.ready ? [e.address] : []);
        const replica = addressesOf(ask(`${e.name}.w.tessera`, "A").answers);
        const ready = endpoints.filter((o) => o.name === e.name && o.ready);
        const newest = ready.sort((a, b) => instanceSeq(b.instance) - instanceSeq(a.instance))[0];
        expect(replica).toEqual(newest ? [newest.address] : []);
      }
    }),
    { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
  );
});
