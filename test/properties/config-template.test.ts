/**
 * Template configs (core/model/config-template.ts): `{{ endpoints "W" }}` renders the same
 * text whatever order the endpoints arrived in, one line per Ready endpoint of W (of the port
 * named, when one is) and nothing of any other workload. fast-check, fixed seed.
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import { renderTemplate } from "../../src/core/model/config-template.js";
import type { Endpoint } from "../../src/core/views/endpoints.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261206);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 200);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);

/** Copies of workloads a and b, on three hosts, with one or two ports, Ready or not; ids in creation order. */
const endpointsArb = fc
  .array(fc.record({ workload: fc.constantFrom("a", "b"), index: fc.integer({ min: 0, max: 3 }), host: fc.integer({ min: 1, max: 3 }), ready: fc.boolean(), port: fc.integer({ min: 20000, max: 20999 }), ports: fc.integer({ min: 1, max: 2 }) }), { maxLength: 12 })
  .map((copies) =>
    copies.flatMap((c, seq): Endpoint[] =>
      ["http", "admin"].slice(0, c.ports).map((portName, k) => ({ workload: c.workload, instance: `${c.workload}-${c.index}.${seq + 1}`, name: `${c.workload}-${c.index}`, node: `n${c.host}`, address: `10.0.0.${c.host}`, portName, hostPort: c.port + k, protocol: "tcp" as const, ready: c.ready })),
    ),
  );

const TEMPLATES = ['{{ endpoints "a" }}', '{{ endpoints "a" "http" }}', 'x\n{{ endpoints "b" "admin" }}\n{{ endpoints "c" }}y'];

test("rendering endpoints is deterministic, independent of their order, and lists each Ready endpoint named exactly once", () => {
  fc.assert(
    fc.property(endpointsArb, fc.constantFrom(...TEMPLATES), fc.integer(), (endpoints, template, shuffleSeed) => {
      const shuffled = [...endpoints].sort((x, y) => ((x.hostPort * 7919 + shuffleSeed) % 97) - ((y.hostPort * 7919 + shuffleSeed) % 97));
      const render = (list: Endpoint[]) => renderTemplate("config t key f", template, {}, (w) => list.filter((e) => e.workload === w));
      const once = render(endpoints);
      expect(render(shuffled)).toEqual(once);
      expect(render(endpoints)).toEqual(once);
      if (!("text" in once)) throw new Error("a well-formed template was refused");
      const [, workload, port] = /"(\w)"(?: "(\w+)")?/.exec(template)!;
      const expected = endpoints.filter((e) => e.workload === workload && e.ready && (port === undefined || e.portName === port)).map((e) => `${e.address}:${e.hostPort}`);
      const lines = once.text.split("\n").filter((l) => /^10\./.test(l));
      expect(lines.sort()).toEqual(expected.sort());
    }),
    { seed: SEED, numRuns: RUNS },
  );
});
