/**
 * @module Test child: one "node" delivering from a shared outbox. Claims due rows (`outbox.claimPending`) until none is
 * left, and "sends" each by marking it sent in a unit of work that also takes the next number of a shared sequence
 * (the `claim_seq` counter), kept in the row's `attempts`: the order in which replies went out, across processes.
 * Prints `ready` once its store is open, starts when the file `<state dir>/go` exists (so all nodes start together),
 * then prints the outbox ids it claimed, as JSON. Args: <state dir> <node> [postgres url].
 */
import fs from "node:fs";
import path from "node:path";
import { openStore } from "../../src/store/index.ts";

const [stateDir, node, databaseUrl] = process.argv.slice(2) as [string, string, string | undefined];
const T0 = 1_763_712_000_000;
const store = databaseUrl
  ? openStore(stateDir, { driver: "postgres", databaseUrl } as Parameters<typeof openStore>[1])
  : openStore(stateDir);
const claimed: string[] = [];
process.stdout.write("ready\n");
while (!fs.existsSync(path.join(stateDir, "go"))) await new Promise((r) => setTimeout(r, 2));
for (let idle = 0; idle < 200;) {
  const rows = store.outbox.claimPending(node, T0, 600_000, 2);
  if (rows.length === 0) {
    if (store.outbox.countPending() === 0) break;
    idle += 1; // the rest is claimed by the others (or held back behind their claims): look again
    await new Promise((r) => setTimeout(r, 5));
    continue;
  }
  idle = 0;
  for (const row of rows) {
    claimed.push(row.outbox_id);
    store.atomically(() => {
      store.counters.bump("claim_seq");
      const seq = store.counters.all()["claim_seq"]!;
      store.outbox.setRow({ outbox_id: row.outbox_id, status: "sent", reason: "delivery_sent", attempts: seq, next_attempt_at_ms: 0 }, T0);
    });
    await new Promise((r) => setTimeout(r, 1)); // the provider round trip: others claim meanwhile
  }
  await new Promise((r) => setImmediate(r));
}
store.close();
process.stdout.write(JSON.stringify(claimed) + "\n");
