import { credentials, makeGenericClientConstructor } from "@grpc/grpc-js";
const def = { s: { path: "/t/S", requestStream: false, responseStream: true, requestSerialize: (x: Buffer) => x, requestDeserialize: (x: Buffer) => x, responseSerialize: (x: Buffer) => x, responseDeserialize: (x: Buffer) => x } };
const C = makeGenericClientConstructor(def as any, "S");
const c = new C(process.argv[2]!, credentials.createInsecure()) as any;
const call = c.s(Buffer.alloc(0));
let n = 0;
call.on("data", (d: Buffer) => { n += d.length; });
call.on("error", (e: any) => { console.log("client error", e.code, e.details); process.exit(0); });
