/**
 * grpc-js answers INTERNAL when request bytes are not a valid message. They are the caller's
 * mistake, so the services' deserializers are wrapped to hand such requests to the handlers
 * as a marker, and the handlers refuse them with INVALID_ARGUMENT.
 */
const UNDECODABLE = Symbol("undecodable");

export interface Undecodable {
  [UNDECODABLE]: string;
}

/** Why a request could not be decoded, or undefined when it was. */
export function undecodable(request: unknown): string | undefined {
  return typeof request === "object" && request !== null && UNDECODABLE in request ? (request as Undecodable)[UNDECODABLE] : undefined;
}

/** The same service definition with deserializers that never throw. */
export function tolerateUndecodable<S extends Record<string, { requestDeserialize: (b: Buffer) => unknown }>>(service: S): S {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(service)) {
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          return { [UNDECODABLE]: (err as Error).message };
        }
      },
    };
  }
  return out as S;
}
