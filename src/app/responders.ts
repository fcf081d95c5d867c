/**
 * @module Composition of the asynchronous responders: model clients (one per responder and key value, SDK loaded on
 * first use), webhook keys, typing through the provider senders, the kill switch, and the worker that runs responder
 * jobs. Startup refuses a misconfigured responder, naming the YAML path (`checkResponders`).
 */
import type { App } from "./open-app.ts";
import type { ProviderSender } from "../contracts/delivery.ts";
import { TYPING_REFRESH_MS } from "../contracts/delivery.ts";
import type { Transport } from "../contracts/envelope.ts";
import { TauError } from "../contracts/errors.ts";
import { apiKeySecretOf, LLM_BASE_URLS } from "../config/index.ts";
import type { Services } from "../capabilities/services.ts";
import type { DryRunBatch } from "../outbound/deliver.ts";
import { checkResponders } from "../responders/check-config.ts";
import { createResponderWorker, type ResponderWorker } from "../responders/job-worker.ts";
import { loadModelClient } from "../responders/llm/clients.ts";
import type { ModelClient } from "../responders/llm/model-client.ts";
import { createMediaUnderstanding } from "./media.ts";

export interface ResponderRuntimeOptions {
  dryRunBatch: () => DryRunBatch;
  senders: ReadonlyMap<Transport, ProviderSender>;
  silenced: () => boolean;
  /** Why replies to a transport are held (outbound or transport kill switch, logout): typing is held with them. */
  deliveryBlock: (transport: string) => string | null;
  onReplies: () => void;
  /** Deliver a finished job's replies at once (provider mode; `Delivery.deliverNow`). */
  deliverNow?: (outboxIds: readonly string[]) => Promise<boolean>;
}

/** The responder checks over this app's config, registry, secrets and route bindings. */
export function responderChecksFor(app: App, services: Services) {
  return checkResponders(app.config, {
    hasCapability: (id) => services.registry.get(id) !== undefined,
    secret: (id) => services.secret(id),
    bindings: services.policies.current()?.bindings.bindings ?? null,
  });
}

/** The model client of each llm responder, re-created when its key changes (`tau secrets set` needs no restart). */
export function createModelClients(app: App, secret: (id: string) => string | null) {
  const cache = new Map<string, { key: string; client: Promise<ModelClient> }>();
  return (name: string): Promise<ModelClient> => {
    const r = app.config.responders[name];
    if (!r || r.kind !== "llm") return Promise.reject(new Error(`responder ${name} is not an llm responder`));
    const key = secret(apiKeySecretOf(r)) ?? "";
    const hit = cache.get(name);
    if (hit && hit.key === key) return hit.client;
    const client = loadModelClient(r.provider, {
      baseUrl: (r.base_url ?? LLM_BASE_URLS[r.provider]).replace(/\/+$/, ""),
      apiKey: key,
      timeoutMs: r.timeout_ms,
      maxRetries: r.sdk_max_retries,
    });
    cache.set(name, { key, client });
    return client;
  };
}

/**
 * The responder worker, or null when tau.yaml configures no asynchronous responder. Throws `CONFIG_INVALID` when a
 * responder or a route binding's responder is misconfigured (before anything runs).
 */
export function createResponderRuntime(app: App, services: Services, opts: ResponderRuntimeOptions): ResponderWorker | null {
  const bad = responderChecksFor(app, services).filter((c) => !c.ok);
  if (bad.length)
    throw new TauError("CONFIG_INVALID", `misconfigured responder: ${bad.map((c) => c.detail ?? c.code).join("; ")}`, {
      reason: bad[0]!.code,
      hint: "fix tau.yaml (or route-bindings.yaml), then run tau preflight",
    });
  if (Object.keys(app.config.responders).length === 0) return null;
  return createResponderWorker({
    services,
    responders: new Map(Object.entries(app.config.responders)),
    clientFor: createModelClients(app, services.secret),
    webhookKey: (name) => {
      const r = app.config.responders[name];
      return r && r.kind === "webhook" ? services.secret(r.signing_secret) : null;
    },
    mode: app.config.outbound.mode,
    dryRunBatch: opts.dryRunBatch,
    typing: {
      send: async (target, inbound) => {
        const sender = opts.senders.get(target.transport);
        if (!sender?.typing) return { ok: false };
        return sender.typing(target, inbound);
      },
      blocked: opts.deliveryBlock,
      refreshMs: (t) => (t in TYPING_REFRESH_MS ? TYPING_REFRESH_MS[t as keyof typeof TYPING_REFRESH_MS] : null),
    },
    understandMedia: createMediaUnderstanding(app, services.secret),
    silenced: opts.silenced,
    onReplies: opts.onReplies,
    deliverNow: opts.deliverNow,
    logger: app.logger,
    concurrency: app.config.responder_concurrency,
  });
}
