/**
 * @module Test helper for the button flows: a tau home in provider mode pointed at local provider servers, the real
 * runner, and ingestion of provider payloads through the real normalizers (as the connectors write them).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Envelope, Transport } from "../../src/contracts/envelope.ts";
import { createAppRunner, normalizerFor, openApp, openIngressWriter, type App } from "../../src/app/index.ts";
import { seededBytes } from "../../src/replay/run-scenario.ts";
import { HOME_IDENTITY_YAML } from "../helpers/tau-home.ts";

export const GROUP_POLICY = `schema_version: 1
defaultPolicy: { dmPolicy: allow, allowFrom: any, groupPolicy: allow, requireMention: false }
`;

export interface ButtonsHarness {
  app: App;
  clock: { ms: number };
  /** Normalize provider payloads with the real normalizer, append them to ingress, drain the runner. */
  ingest(transport: Transport, payload: unknown): Promise<Envelope[]>;
  /** Append envelopes (as a connector writes them) and drain the runner. */
  ingestEnvelopes(envs: Envelope[]): Promise<void>;
  /** Trace rows of events processed so far: event id → final reason. */
  reasons(): Map<string, string>;
  close(): void;
}

export function makeButtonsHarness(opts: {
  yaml: string;
  env: Record<string, string>;
  policies: Record<string, string>;
  /** Shared with the local servers (callback deadlines, message dates); default a fixed start time. */
  clock?: { ms: number };
}): ButtonsHarness {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-buttons-"));
  fs.mkdirSync(path.join(dir, "policies"));
  for (const [name, text] of Object.entries(opts.policies)) fs.writeFileSync(path.join(dir, "policies", name), text);
  const configPath = path.join(dir, "tau.yaml");
  fs.writeFileSync(
    configPath,
    `schema_version: 1\nlog:\n  level: error\n${HOME_IDENTITY_YAML}runner:\n  coalesce_window_ms: 0\n${opts.yaml}`,
  );
  const clock = opts.clock ?? { ms: 1_763_712_000_000 };
  const app = openApp({ stateDir: path.join(dir, "state"), configPath, env: opts.env, clock: () => clock.ms });
  (app as { randomBytes: (n: number) => Uint8Array }).randomBytes = seededBytes(7);
  const { runner, close } = createAppRunner(app);
  return {
    app,
    clock,
    async ingest(transport, payload) {
      const r = normalizerFor(transport)!(payload, { identity: app.config.identity, receivedAtMs: clock.ms });
      if (!r.ok) throw new Error(`${transport} payload refused: ${r.code} ${r.detail}`);
      const w = openIngressWriter(app);
      await w.append(transport, r.envelopes);
      await w.close();
      await runner.drain();
      return r.envelopes;
    },
    async ingestEnvelopes(envs) {
      const w = openIngressWriter(app);
      for (const e of envs) await w.append(e.transport, [e]);
      await w.close();
      await runner.drain();
    },
    reasons() {
      return new Map(app.store.inspect.tracesAfter(0).map((t) => [t.event_id, t.reason]));
    },
    close() {
      close();
      app.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
