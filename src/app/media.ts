/**
 * @module Composition of media understanding: the platform media sources (each connector's module — and its SDK —
 * loaded on first use), the optional transcription client, the download folder under the state dir, wired into the
 * responder worker as `understandMedia`.
 */
import path from "node:path";
import type { App } from "./open-app.ts";
import type { MediaSource } from "../contracts/media.ts";
import { apiKeySecretOf, LLM_BASE_URLS, transcriptionModelOf } from "../config/index.ts";
import { understandAttachments } from "../media/understand.ts";
import type { ModelClient, ModelUsage, TranscriptionClient } from "../responders/llm/model-client.ts";
import { loadTranscriptionClient } from "../responders/llm/transcription.ts";

type SecretLookup = (id: string) => string | null;

/** A source whose connector module is imported on the first attachment of its transport. */
function lazySource(transport: string, load: () => Promise<MediaSource>): MediaSource {
  let real: Promise<MediaSource> | null = null;
  return {
    transport,
    resolve: async (att, env, signal) => {
      real ??= load();
      return (await real).resolve(att, env, signal);
    },
  };
}

export function createMediaSources(app: App, secret: SecretLookup): Map<string, MediaSource> {
  const c = app.config.connectors;
  const timeoutMs = Math.max(app.config.outbound.http_timeout_ms, 30_000);
  return new Map<string, MediaSource>([
    [
      "telegram",
      lazySource("telegram", async () =>
        (await import("../../connectors/telegram/media.ts")).createTelegramMediaSource({
          apiRoot: c.telegram.api_root,
          token: () => secret("telegram-bot-token"),
          timeoutMs,
        }),
      ),
    ],
    [
      "discord",
      lazySource("discord", async () =>
        (await import("../../connectors/discord/media.ts")).createDiscordMediaSource({
          apiRoot: c.discord.api_root,
          token: () => secret("discord-bot-token"),
          timeoutMs,
        }),
      ),
    ],
    [
      "whatsapp",
      lazySource("whatsapp", async () =>
        (await import("../../connectors/whatsapp/media.ts")).createWhatsAppMediaSource({
          apiRoot: c.whatsapp.api_root,
          token: () => secret("whatsapp-access-token"),
          timeoutMs,
        }),
      ),
    ],
    [
      "email",
      lazySource("email", async () => {
        const mail = await import("../capabilities/mail/imap-media-source.ts");
        return mail.createEmailMediaSource({
          imap: mail.stackImapConfig(app.loaded.policiesDir, secret),
          streamToFile: (await import("../../connectors/shared/download.ts")).streamToFile,
          timeoutMs,
        });
      }),
    ],
  ]);
}

/** The worker's `understandMedia`: the responder's model for vision, the configured transcriber for audio. */
export function createMediaUnderstanding(app: App, secret: SecretLookup) {
  const sources = createMediaSources(app, secret);
  const t = app.config.media.transcription;
  let transcriber: Promise<TranscriptionClient> | null = null;
  const transcriberFor = (): Promise<TranscriptionClient> | null => {
    if (!t) return null;
    return (transcriber ??= loadTranscriptionClient(t.provider, {
      baseUrl: (t.base_url ?? LLM_BASE_URLS[t.provider]).replace(/\/+$/, ""),
      // Self-hosted whisper servers take no key, but the SDK needs one: a placeholder that a real API refuses (401).
      apiKey: secret(apiKeySecretOf(t)) ?? "no-key-configured",
      timeoutMs: t.timeout_ms,
      maxRetries: 1,
      model: transcriptionModelOf(t),
    }));
  };
  return async (
    env: Parameters<typeof understandAttachments>[0],
    ctx: {
      client: ModelClient;
      model: string;
      signal: AbortSignal;
      onCall(r: { usage: ModelUsage; latency_ms: number; reason: string }): void;
    },
  ) => {
    const tr = transcriberFor();
    return understandAttachments(env, {
      config: app.config.media,
      store: app.store,
      source: (transport) => sources.get(transport),
      model: { client: ctx.client, model: ctx.model },
      transcriber: tr ? await tr : null,
      dir: path.join(app.stateDir, "media"),
      clock: app.clock,
      signal: ctx.signal,
      onCall: ctx.onCall,
    });
  };
}
