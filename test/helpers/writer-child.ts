/** @module Test child: append N envelopes (with a large text, to make interleaving likely) from one process. */
import { createIngressWriter } from "../../src/ingress/writer.ts";
import { makeEnvelope } from "./envelope-factory.ts";

const [dir, proc, count] = process.argv.slice(2) as [string, string, string];
const w = createIngressWriter({ ingressDir: dir, maxLineBytes: 1 << 20 });
const big = "y".repeat(20_000);
await Promise.all(
  Array.from({ length: Number(count) }, (_, i) =>
    w.append("telegram", [makeEnvelope({ event_id: `telegram:6112:u:${proc}${String(i).padStart(6, "0")}`, text: big })]),
  ),
);
await w.close();
