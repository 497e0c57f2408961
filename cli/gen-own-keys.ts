/**
 * `make proto` runs this on ts-proto's output (src/gen): map entries are written as own data
 * properties, as ts-proto's own fromJSON already does (ts-proto#1267). Its binary decoder,
 * toJSON and fromPartial still assign with `map[key] = value`, and for a key named `__proto__`
 * that calls the prototype setter instead: the entry vanished silently (a `__proto__` env var
 * applied without it; found by test/control/rpc-fuzz.test.ts). Each rewrite must match at least
 * once, so a ts-proto that changes its output fails the build instead of going unpatched.
 *
 *   bun cli/gen-own-keys.ts DIR
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const own = (target: string, key: string, value: string) =>
  `globalThis.Object.defineProperty(${target}, ${key}, { value: ${value}, enumerable: true, configurable: true, writable: true });`;

const REWRITES: Array<{ where: string; pattern: RegExp; to: (...groups: string[]) => string }> = [
  { where: "decode", pattern: /message\.(\w+)\[(entry\d+)\.key\] = \2\.value;/g, to: (field, entry) => own(`message.${field}`, `${entry}.key`, `${entry}.value`) },
  { where: "toJSON", pattern: /obj\.(\w+)\[k\] = (.+);/g, to: (field, value) => own(`obj.${field}`, "k", value!) },
  { where: "fromPartial", pattern: /acc\[key\] = (.+);/g, to: (value) => own("acc", "key", value!) },
];

const dir = process.argv[2];
if (!dir) throw new Error("usage: bun cli/gen-own-keys.ts DIR");
const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
const counts = new Map(REWRITES.map((r) => [r.where, 0]));
for (const file of files) {
  const path = join(dir, file);
  let text = readFileSync(path, "utf8");
  for (const r of REWRITES) {
    text = text.replace(r.pattern, (_match, ...groups: string[]) => {
      counts.set(r.where, counts.get(r.where)! + 1);
      return r.to(...groups);
    });
  }
  writeFileSync(path, text);
}
const missing = [...counts].filter(([, n]) => n === 0).map(([where]) => where);
if (missing.length > 0) throw new Error(`gen-own-keys: no map assignment found in ts-proto's ${missing.join(", ")}; check its output and this script`);
console.log(`gen-own-keys: ${[...counts].map(([where, n]) => `${where} ${n}`).join(", ")}`);
