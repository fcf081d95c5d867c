/** @module Test helper: run envelopes through the real runner (real SQLite, real pipeline) and read back decisions. */
import type { Envelope } from "../../src/contracts/envelope.ts";
import { createAppRunner, openIngressWriter, type App } from "../../src/app/index.ts";
import { seededBytes } from "../../src/replay/run-scenario.ts";
import { makeTauHome, type TauHome } from "./tau-home.ts";

export interface Harness {
  home: TauHome;
  app: App;
  now: { ms: number };
  /** Ingest and drain; returns `{event_id, outcome, reason, decisions}` for the new events, in order. */
  run(envs: Envelope[]): Promise<{ event_id: string; outcome: string; reason: string; decisions: string[] }[]>;
  replies(): { event_id: string | null; purpose: string; text: string }[];
  close(): void;
}

export function makeHarness(policies: Record<string, string>, extraYaml = "runner:\n  coalesce_window_ms: 0\n"): Harness {
  const home = makeTauHome(extraYaml, policies);
  const now = { ms: 1_763_712_000_000 };
  const app = home.open(() => now.ms);
  (app as { randomBytes: (n: number) => Uint8Array }).randomBytes = seededBytes(1);
  const { runner, close } = createAppRunner(app);
  let seq = 0;
  return {
    home,
    app,
    now,
    async run(envs) {
      const w = openIngressWriter(app);
      for (const e of envs) await w.append(e.transport, [e]);
      await w.close();
      await runner.drain();
      const rows = app.store.inspect.tracesAfter(seq);
      if (rows.length) seq = rows.at(-1)!.seq;
      return rows.map((r) => ({
        event_id: r.event_id,
        outcome: r.outcome,
        reason: r.reason,
        decisions: (JSON.parse(r.decisions) as { stage: string; reason: string }[]).map((d) => `${d.stage}:${d.reason}`),
      }));
    },
    replies() {
      return app.store.inspect.repliesAfter(0).flatMap((o) => {
        const chunks = app.store.outbox.chunksOf(o.outbox_id);
        return chunks.length ? [{ event_id: o.event_id, purpose: o.purpose, text: chunks.map((c) => c.body).join("") }] : [];
      });
    },
    close() {
      close();
      app.close();
      home.cleanup();
    },
  };
}
