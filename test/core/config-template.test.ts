/**
 * Template configs (core/model/config-template.ts): the copy's variables and other workloads'
 * endpoints rendered into a config's text, or an error naming the file and the reference.
 */
import { expect, test } from "bun:test";
import { renderTemplate } from "../../src/core/model/config-template.js";
import type { Endpoint } from "../../src/core/views/endpoints.js";

const ep = (name: string, address: string, hostPort: number, portName = "http", ready = true): Endpoint => ({
  workload: name.split("-")[0]!,
  instance: `${name}.1`,
  name,
  node: "n1",
  address,
  portName,
  hostPort,
  protocol: "tcp",
  ready,
});
const endpoints = [ep("db-1", "10.0.0.2", 20002), ep("db-0", "10.0.0.1", 20001), ep("db-0", "10.0.0.1", 20011, "admin"), ep("db-2", "10.0.0.3", 20003, "http", false), ep("cache-0", "10.0.0.9", 20009)];
const of = (w: string) => endpoints.filter((e) => e.workload === w);
const vars = { TESSERA_PORT_HTTP: "8080" };

test.each([
  ["every Ready endpoint of a workload, one per line, in copy order", 'upstream {\n{{ endpoints "db" }}\n}', "upstream {\n10.0.0.1:20011\n10.0.0.1:20001\n10.0.0.2:20002\n}"],
  ["a named port only", '{{endpoints "db" "http"}}', "10.0.0.1:20001\n10.0.0.2:20002"],
  ["spaces inside the braces are free", '{{   endpoints   "db"   "admin"   }}', "10.0.0.1:20011"],
  ["an unknown workload renders empty", 'x={{ endpoints "nope" }};', "x=;"],
  ["an unknown port renders empty", 'x={{ endpoints "db" "grpc" }};', "x=;"],
  ["the copy's variables beside endpoints; $${ is a literal ${", 'listen ${TESSERA_PORT_HTTP}; $${TESSERA_PORT_HTTP} ${TESSERA_NOPE} {{ endpoints "cache" }}', "listen 8080; ${TESSERA_PORT_HTTP} ${TESSERA_NOPE} 10.0.0.9:20009"],
  ["another tool's {{ ... }} is left as written", "{{ .Address }} {{ endpoint }} {{endpointsX}}", "{{ .Address }} {{ endpoint }} {{endpointsX}}"],
])("%s", (_, text, rendered) => {
  expect(renderTemplate("config app key app.conf", text, vars, of)).toEqual({ text: rendered });
});

test.each([
  ["no workload", "{{ endpoints }}"],
  ["an unquoted workload", "{{ endpoints db }}"],
  ["three arguments", '{{ endpoints "db" "http" "x" }}'],
  ["single quotes", "{{ endpoints 'db' }}"],
])("a bad endpoints reference (%s) is refused naming the file and the reference", (_, text) => {
  expect(renderTemplate("config app key app.conf", `a\n${text}\n`, vars, of)).toEqual({
    error: `config app key app.conf: ${text}: expected {{ endpoints "WORKLOAD" }} or {{ endpoints "WORKLOAD" "PORT" }}`,
  });
});

test("what a reference renders to is not read again as a reference", () => {
  const sneaky = [{ ...ep("x-0", "${TESSERA_PORT_HTTP}", 1) }];
  expect(renderTemplate("f", '{{ endpoints "x" }}', vars, () => sneaky)).toEqual({ text: "${TESSERA_PORT_HTTP}:1" });
});
