/**
 * Which heartbeats the gateway answers, for an agent that asks (Hello.answer_heartbeats): a
 * stream's first beat always; a later one only when nothing went down the stream since the beat
 * before it, since the agent judges its stream by any word on it and under a burst the
 * commands already say it is alive. A real control plane (in this process, plaintext) and bare
 * agent streams, each ended by a second hello once its beats are sent: the gateway handles a
 * stream's messages in order, so every answer they got arrives before the end.
 */
import { expect, test } from "bun:test";
import type { ControlMessage } from "../../src/gen/tessera/v1/agent_gateway.js";
import { eventually } from "../e2e/harness.js";
import { bareHello } from "./bare-hello.js";
import { plaintextCluster } from "./plaintext-cluster.js";

const cluster = plaintextCluster("heartbeat-answers");

/** A bare agent on `node` (labelled tier=`node`): how many answers and starts it was sent, and a heartbeat to send. */
function agent(node: string, answerHeartbeats: boolean) {
  const a = cluster.agent(node, { answerHeartbeats, acceptsBatches: true });
  const opened = () => a.received.flatMap((m: ControlMessage) => (m.command?.$case === "batch" ? m.command.value.messages : [m]));
  return {
    ...a,
    answers: () => a.received.filter((m) => m.command?.$case === "heartbeatInterval").length,
    starts: () => opened().filter((m) => m.command?.$case === "start").length,
    beat: () => a.send({ payload: { $case: "heartbeat", value: {} } }),
  };
}

test("the first beat is answered, a beat after which commands went down is not, the next quiet one is", async () => {
  const a = agent("busy", true);
  await cluster.nodesKnown("busy");
  // The hello's endpoints went down already: the first beat is answered all the same.
  a.beat();
  await eventually("the first beat answered", () => (a.answers() === 1 ? true : undefined));
  // Nothing since: answered.
  a.beat();
  await eventually("a quiet beat answered", () => (a.answers() === 2 ? true : undefined));
  await cluster.apply("on-busy", "busy", 1);
  await eventually("its start", () => (a.starts() === 1 ? true : undefined));
  // The start went down after the last beat: this one is not answered, the one after it is.
  a.beat();
  a.beat();
  // A second hello ends the stream once both beats are handled (the gateway takes a stream's
  // messages in order): every answer they got came before the end.
  a.send(bareHello("busy"));
  await eventually("the stream ended", () => (a.ended() ? true : undefined));
  expect(a.answers()).toBe(3);
});

test("an agent that does not ask is never answered", async () => {
  const older = agent("older", false);
  await cluster.nodesKnown("older");
  older.beat();
  older.beat();
  // A second hello is refused, ending the stream: the gateway handles a stream's messages in
  // order, so an answer to either beat would have come before the end.
  older.send(bareHello("older"));
  await eventually("the stream ended", () => (older.ended() ? true : undefined));
  expect(older.answers()).toBe(0);
});
