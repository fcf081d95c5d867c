/**
 * Outbox claims under real concurrency (issue 15 §2): three processes ("nodes") claim from one outbox at once — on a
 * SQLite file, and on PostgreSQL (FOR UPDATE SKIP LOCKED) once its driver is present. No row is claimed by two nodes,
 * every row is delivered, and within each conversation replies went out in the order they were queued (a shared
 * sequence taken in each "send" records the order across processes; test/helpers/claim-child.ts).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { openStore, type Store } from "../../src/store/index.ts";
import { startPostgres, type TestPostgres } from "../helpers/postgres.ts";
import { ENGINE_HOOK_TIMEOUT_MS, postgresDriverPresent } from "../store/contract/engines.ts";

const T0 = 1_763_712_000_000;
const CONVERSATIONS = 8;
const PER_CONVERSATION = 40;

/** Start one node; `ready` settles once its store is open, `claimed` with the ids it claimed when it exits. */
function startChild(stateDir: string, node: string, databaseUrl?: string): { ready: Promise<void>; claimed: Promise<string[]> } {
  const args = ["--import", "tsx", path.resolve("test/helpers/claim-child.ts"), stateDir, node, ...(databaseUrl ? [databaseUrl] : [])];
  const c = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  let markReady = () => {};
  const ready = new Promise<void>((r) => (markReady = r));
  c.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    if (out.startsWith("ready\n")) markReady();
  });
  const claimed = new Promise<string[]>((resolve, reject) => {
    c.on("error", reject);
    c.on("exit", (code) =>
      code === 0 ? resolve(JSON.parse(out.split("\n")[1]!) as string[]) : reject(new Error(`${node} exited ${code}`)),
    );
  });
  return { ready, claimed };
}

const engines: ("sqlite" | "postgres")[] = postgresDriverPresent ? ["sqlite", "postgres"] : ["sqlite"];

describe.each(engines)("three processes claiming from one outbox on %s", (engine) => {
  let pg: TestPostgres | null = null;
  const dirs: string[] = [];
  const stores: Store[] = [];
  afterEach(() => {
    for (const s of stores.splice(0)) s.close();
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it("never claim the same row, deliver every row, and keep each conversation's order", { timeout: ENGINE_HOOK_TIMEOUT_MS }, async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-claims-"));
    dirs.push(stateDir);
    let databaseUrl: string | undefined;
    if (engine === "postgres") {
      pg ??= await startPostgres();
      databaseUrl = await pg.createDatabase();
    }
    const store = databaseUrl
      ? openStore(stateDir, { driver: "postgres", databaseUrl } as Parameters<typeof openStore>[1])
      : openStore(stateDir);
    stores.push(store);
    // Round-robin over the conversations, ids in queue order.
    const queued: { id: string; conversation: string }[] = [];
    store.atomically(() => {
      for (let i = 0; i < PER_CONVERSATION; i++)
        for (let c = 0; c < CONVERSATIONS; c++) {
          const id = `ob_${String(queued.length).padStart(4, "0")}`;
          const conversation = `-100${c}`;
          queued.push({ id, conversation });
          store.outbox.insert(
            {
              outbox_id: id,
              event_id: `ev:${id}`,
              transport: "telegram",
              account_id: "6112",
              conversation_id: conversation,
              thread_id: null,
              reply_to: null,
              mode: "provider",
              purpose: "responder",
              status: "queued",
              reason: null,
              chunk_count: 1,
            },
            T0,
          );
        }
    });

    const nodes = ["node-a", "node-b", "node-c"].map((n) => startChild(stateDir, n, databaseUrl));
    await Promise.all(nodes.map((n) => n.ready));
    fs.writeFileSync(path.join(stateDir, "go"), "");
    const claims = await Promise.all(nodes.map((n) => n.claimed));

    const all = claims.flat();
    console.log(
      "DIST",
      engine,
      claims.map((c) => c.length),
    );
    expect(all).toHaveLength(queued.length);
    expect(new Set(all).size).toBe(queued.length);
    expect(store.outbox.countPending()).toBe(0);
    // The shared sequence each send took: increasing with the queue order inside every conversation.
    for (let c = 0; c < CONVERSATIONS; c++) {
      const seqs = queued.filter((q) => q.conversation === `-100${c}`).map((q) => store.outbox.get(q.id)!.attempts);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    }
  });
});
