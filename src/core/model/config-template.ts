/**
 * A template config's text rendered for one copy (spec.configs[].template). PURE: the agent
 * calls it when it writes a copy's files and again when the endpoints a file names change.
 *
 *   ${TESSERA_...}             the copy's own variable (port-env.ts); an unknown name is left as written
 *   $${                        a literal `${`
 *   {{ endpoints "db" }}       one `address:port` line per Ready endpoint of workload db, every port
 *   {{ endpoints "db" "http" }} the same, its port named http only
 *
 * Lines are sorted (copy name, port name, copy id: endpointsOf's order), so the text does not
 * depend on the order the endpoints arrived in, and are joined by newlines (no last one: the
 * template's own line break follows). A workload with no Ready endpoint, or none of that name,
 * renders empty, as DNS answers nothing for it: a config may name a workload applied later.
 * A `{{ endpoints ...}}` that is not one of the two forms is an error naming the config, its
 * key and the reference; any other `{{ ... }}` is left as written (it may be another tool's).
 * One pass: what a reference renders to is never read again as a reference.
 */
import type { Endpoint } from "../views/endpoints.js";
import { VARIABLE_REFERENCE } from "./port-env.js";

/** `$${`, `${TESSERA_...}` (as in args), or anything from `{{ endpoints` to the next `}}`. */
const REFERENCE = new RegExp(`${VARIABLE_REFERENCE}|\\{\\{\\s*endpoints\\b([^}]*)\\}\\}`, "g");
/** The arguments of an endpoints reference: a workload and an optional port name, in double quotes. */
const ARGUMENTS = /^\s+"([^"\s]+)"(?:\s+"([^"\s]+)")?\s*$/;

/** What one file names of other workloads' endpoints. */
export interface EndpointsReference {
  workload: string;
  /** Unset: every port. */
  port?: string;
}

export type Rendered = { text: string } | { error: string };

/** What a bad reference is refused as: the file it is in and what it should have been. */
function badReference(file: string, reference: string): { error: string } {
  return { error: `${file}: ${reference}: expected {{ endpoints "WORKLOAD" }} or {{ endpoints "WORKLOAD" "PORT" }}` };
}

function parseReference(args: string): EndpointsReference | undefined {
  const m = ARGUMENTS.exec(args);
  if (!m) return undefined;
  return m[2] === undefined ? { workload: m[1]! } : { workload: m[1]!, port: m[2] };
}

function byEndpointOrder(a: Endpoint, b: Endpoint): number {
  const ka = [a.name, a.portName, a.instance, a.address, String(a.hostPort)];
  const kb = [b.name, b.portName, b.instance, b.address, String(b.hostPort)];
  for (let k = 0; k < ka.length; k++) if (ka[k] !== kb[k]) return ka[k]! < kb[k]! ? -1 : 1;
  return 0;
}

/** The lines one reference renders to. */
function endpointLines(ref: EndpointsReference, endpointsOf: (workload: string) => readonly Endpoint[]): string {
  const serving = endpointsOf(ref.workload).filter((e) => e.workload === ref.workload && e.ready && (ref.port === undefined || e.portName === ref.port));
  return [...serving].sort(byEndpointOrder).map((e) => `${e.address}:${e.hostPort}`).join("\n");
}

/**
 * `text` rendered: the copy's variables from `vars`, other workloads' endpoints from
 * `endpointsOf` (a workload's endpoints, in any order). `file` names the text in an error
 * (`config nginx key default.conf`).
 */
export function renderTemplate(file: string, text: string, vars: Readonly<Record<string, string>>, endpointsOf: (workload: string) => readonly Endpoint[]): Rendered {
  let bad: { error: string } | undefined;
  const out = text.replace(REFERENCE, (whole, name: string | undefined, args: string | undefined) => {
    if (args !== undefined) {
      const ref = parseReference(args);
      if (ref === undefined) {
        bad ??= badReference(file, whole);
        return whole;
      }
      return endpointLines(ref, endpointsOf);
    }
    return name === undefined ? "${" : (vars[name] ?? whole);
  });
  return bad ?? { text: out };
}
