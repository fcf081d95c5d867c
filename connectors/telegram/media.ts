/**
 * @module Telegram media source: `getFile` (grammY) gives `file_unique_id` (the stable identity), `file_size` and
 * `file_path`; the bytes come from `GET {api_root}/file/bot<token>/<file_path>`. The Bot API serves files up to
 * 20 MB (getFile answers 400 "file is too big" past that). The token is in the URL, so no URL is ever reported.
 * @see https://core.telegram.org/bots/api#getfile
 */
import { Api, GrammyError } from "grammy";
import type { MediaSource } from "../../src/contracts/media.ts";
import { redact } from "../shared/send-tracking.ts";
import { streamToFile } from "../shared/download.ts";

interface TelegramMediaOptions {
  apiRoot: string;
  token(): string | null;
  timeoutMs: number;
}

export function createTelegramMediaSource(opts: TelegramMediaOptions): MediaSource {
  const apiRoot = opts.apiRoot.replace(/\/+$/, "");
  return {
    transport: "telegram",
    async resolve(att, _env, signal) {
      const token = opts.token();
      if (!token) return { ok: false, reason: "media_provider_error", detail: "telegram-bot-token is not set" };
      let file;
      try {
        file = await new Api(token, { apiRoot, timeoutSeconds: opts.timeoutMs / 1000 }).getFile(
          att.ref!,
          signal as unknown as Parameters<Api["getFile"]>[1],
        );
      } catch (err) {
        const detail =
          err instanceof GrammyError ? `getFile ${err.error_code}: ${err.description}` : `getFile failed: ${(err as Error).message}`;
        return { ok: false, reason: "media_provider_error", detail: redact(detail, [token]).slice(0, 200) };
      }
      if (!file.file_path) return { ok: false, reason: "media_provider_error", detail: "getFile gave no file_path (not downloadable)" };
      const filePath = file.file_path;
      return {
        ok: true,
        media: {
          identity: file.file_unique_id,
          declaredSize: file.file_size ?? null,
          async download(dest, maxBytes, dsignal) {
            let res: Response;
            try {
              res = await fetch(`${apiRoot}/file/bot${token}/${filePath}`, {
                signal: AbortSignal.any([dsignal, AbortSignal.timeout(opts.timeoutMs)]),
              });
            } catch (err) {
              if (dsignal.aborted) throw err;
              return {
                ok: false,
                reason: "media_provider_error",
                detail: redact(`file download failed: ${(err as Error).message}`, [token]),
              };
            }
            if (!res.ok || !res.body) {
              await res.body?.cancel();
              return { ok: false, reason: "media_provider_error", detail: `file download: HTTP ${res.status}` };
            }
            const out = await streamToFile(res.body, dest, maxBytes, dsignal);
            return out.ok ? out : { ...out, detail: redact(out.detail, [token]) };
          },
        },
      };
    },
  };
}
