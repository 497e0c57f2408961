/**
 * The hello of a bare agent stream a test opens by hand: a simulated node of one core and
 * 1 GiB, what the test sets over it, and the wire's default for everything else (as an agent
 * older than a field sends it). A field added to Hello needs no edit here or in the tests.
 */
import { type AgentMessage, type DeepPartial, Hello } from "../../src/gen/tessera/v1/agent_gateway.js";

export function bareHello(node: string, over: DeepPartial<Hello> = {}): AgentMessage {
  return { payload: { $case: "hello", value: Hello.fromPartial({ node, executors: ["simulated"], version: "t", capacity: { cpuMillis: 1000, memoryMb: 1024 }, ...over }) } };
}
