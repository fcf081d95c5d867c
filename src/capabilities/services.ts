/**
 * @module What capabilities may use, built once in `src/app` and passed in (STYLE.md §6.6).
 */
import type { AuditEntry } from "../audit/audit-log.ts";
import type { ReplyIntent, ReplyTarget } from "../contracts/outbound.ts";
import type { TauConfig } from "../config/index.ts";
import type { PolicyManager } from "../config/policy-manager.ts";
import type { HealthReport } from "../contracts/health.ts";
import type { Store } from "../store/index.ts";
import type { EmailConnectorFactory } from "./mail/mail-context.ts";
import type { CapabilityRegistry } from "./registry.ts";

export interface Services {
  config: TauConfig;
  stateDir: string;
  /** Absolute policies folder (channel policy, bindings, RBAC, communications contracts). */
  policiesDir: string;
  /** Every table family behind the Store port (`store.access`, `store.commands`, `store.audit`, …). */
  store: Store;
  registry: CapabilityRegistry;
  policies: PolicyManager;
  clock: () => number;
  audit(entry: AuditEntry): void;
  health(): HealthReport;
  /** Cryptographic randomness (injected so replays are deterministic). */
  randomBytes(n: number): Uint8Array;
  /** A secret by integration id (env first, then the integration store); null when absent. Never log it. */
  secret(id: string): string | null;
  /** Build the email connector for one poll round (`/tau inbox poll`); the composition picks the implementation. */
  emailConnector: EmailConnectorFactory;
  /** The configured responders: their configuration checks, and an authenticated probe of an llm responder's provider. */
  responders: {
    checks(): { key: string; code: string; ok: boolean; detail?: string }[];
    probe(name: string): Promise<{ ok: boolean; reason: string; detail: string }>;
  };
  /** Queue a message through tau's own outbound (alerts to an ops chat); returns the outbox id. */
  queueMessage(target: ReplyTarget, text: string, purpose: ReplyIntent["purpose"], idempotencyKey: string): string;
}
