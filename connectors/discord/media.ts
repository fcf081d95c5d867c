/**
 * @module Discord media source: the attachment's CDN URL expires (signed `ex`/`is`/`hm` parameters), so it is not
 * kept in the envelope; the message is read again with `GET /channels/{channel}/messages/{message}` (bot token) and
 * the fresh URL of the attachment with the same id is downloaded. The attachment id is the stable identity.
 * @see https://discord.com/developers/docs/resources/message#get-channel-message
 */
import { REST } from "discord.js";
import type { MediaSource } from "../../src/contracts/media.ts";
import { redact } from "../shared/send-tracking.ts";
import { streamToFile } from "../shared/download.ts";

interface DiscordMediaOptions {
  apiRoot: string;
  token(): string | null;
  timeoutMs: number;
}

interface MessageAttachments {
  attachments?: { id: string; url: string; size?: number }[];
}

export function createDiscordMediaSource(opts: DiscordMediaOptions): MediaSource {
  const rest = new REST({ api: opts.apiRoot, version: "10", retries: 0, timeout: opts.timeoutMs, rejectOnRateLimit: () => true });
  return {
    transport: "discord",
    async resolve(att, env, signal) {
      const token = opts.token();
      if (!token) return { ok: false, reason: "media_provider_error", detail: "discord-bot-token is not set" };
      const messageId = env.meta.message_id;
      if (typeof messageId !== "string")
        return { ok: false, reason: "media_provider_error", detail: "no message id to read the attachment from" };
      const channel = env.thread_id ?? env.conversation_id;
      let message: MessageAttachments;
      try {
        rest.setToken(token);
        message = (await rest.get(`/channels/${channel}/messages/${messageId}`, { signal })) as MessageAttachments;
      } catch (err) {
        return {
          ok: false,
          reason: "media_provider_error",
          detail: redact(`get message failed: ${(err as Error).message}`, [token]).slice(0, 200),
        };
      }
      const found = message.attachments?.find((a) => a.id === att.ref);
      if (!found) return { ok: false, reason: "media_provider_error", detail: "the attachment is no longer on the message" };
      return {
        ok: true,
        media: {
          identity: found.id,
          declaredSize: typeof found.size === "number" ? found.size : null,
          async download(dest, maxBytes, dsignal) {
            let res: Response;
            try {
              res = await fetch(found.url, { signal: AbortSignal.any([dsignal, AbortSignal.timeout(opts.timeoutMs)]) });
            } catch (err) {
              if (dsignal.aborted) throw err;
              return { ok: false, reason: "media_provider_error", detail: `download failed: ${(err as Error).message}` };
            }
            if (!res.ok || !res.body) {
              await res.body?.cancel();
              return { ok: false, reason: "media_provider_error", detail: `download: HTTP ${res.status}` };
            }
            return streamToFile(res.body, dest, maxBytes, dsignal);
          },
        },
      };
    },
  };
}
