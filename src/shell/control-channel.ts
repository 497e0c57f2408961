/**
 * How a client dials the control plane over TLS (shell: wire settings), for the control plane
 * that issues the certificate and for everyone who dials it: the agent, `tessera ctl`, tests.
 */

/**
 * The name every control-plane server certificate carries, whatever address it is dialed at:
 * agents and ctl often dial an IP, or an address the certificate was not made for.
 */
export const CONTROL_SERVER_NAME = "tessera-control";

/**
 * grpc-js channel options for a channel to the control plane: a TLS certificate is verified
 * against CONTROL_SERVER_NAME. Channelz is off: no one reads its counters (Tessera serves no
 * channelz service), and grpc-js would keep them per message sent and received.
 */
export const CHANNEL_OPTIONS = { "grpc.ssl_target_name_override": CONTROL_SERVER_NAME, "grpc.enable_channelz": 0 };
