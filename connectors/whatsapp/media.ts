/**
 * @module WhatsApp media source: `GET /{media-id}` (bearer token) gives a short-lived `url`, `sha256` (the stable
 * identity), `file_size` and `mime_type`; the bytes come from that URL with the same bearer token. The URL expires
 * after minutes: a 401/403/404 on the download fetches the metadata again, once.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media
 */
import axios, { type AxiosInstance } from "axios";
import type { DownloadOutcome, MediaSource } from "../../src/contracts/media.ts";
import { redact } from "../shared/send-tracking.ts";
import { streamToFile } from "../shared/download.ts";

interface WhatsAppMediaOptions {
  apiRoot: string;
  token(): string | null;
  timeoutMs: number;
}

interface MediaMeta {
  url: string;
  sha256?: string;
  file_size?: number;
}

export function createWhatsAppMediaSource(opts: WhatsAppMediaOptions): MediaSource {
  const http: AxiosInstance = axios.create({ baseURL: opts.apiRoot.replace(/\/+$/, ""), timeout: opts.timeoutMs, maxRedirects: 0 });
  const describe = (err: unknown, token: string) => {
    const status = axios.isAxiosError(err) ? err.response?.status : undefined;
    const message = axios.isAxiosError(err)
      ? (err.response?.data as { error?: { message?: string } } | undefined)?.error?.message
      : undefined;
    // Never the axios error itself: its config holds the Authorization header.
    return redact(`${status ? `HTTP ${status}` : ((err as Error).message ?? "failed")}${message ? `: ${message}` : ""}`, [token]).slice(
      0,
      200,
    );
  };
  const meta = async (id: string, token: string, signal: AbortSignal): Promise<MediaMeta> =>
    (await http.get<MediaMeta>(`/${encodeURIComponent(id)}`, { headers: { Authorization: `Bearer ${token}` }, signal })).data;
  return {
    transport: "whatsapp",
    async resolve(att, _env, signal) {
      const token = opts.token();
      if (!token) return { ok: false, reason: "media_provider_error", detail: "whatsapp-access-token is not set" };
      let first: MediaMeta;
      try {
        first = await meta(att.ref!, token, signal);
      } catch (err) {
        return { ok: false, reason: "media_provider_error", detail: `media lookup: ${describe(err, token)}` };
      }
      const fetchTo = async (url: string, dest: string, maxBytes: number, dsignal: AbortSignal): Promise<DownloadOutcome | "expired"> => {
        try {
          const res = await http.get(url, {
            headers: { Authorization: `Bearer ${token}` },
            responseType: "stream",
            signal: dsignal,
            baseURL: undefined,
          });
          return streamToFile(res.data as NodeJS.ReadableStream, dest, maxBytes, dsignal);
        } catch (err) {
          if (dsignal.aborted) throw err;
          const status = axios.isAxiosError(err) ? err.response?.status : undefined;
          if (status === 401 || status === 403 || status === 404) return "expired";
          return { ok: false, reason: "media_provider_error", detail: `download: ${describe(err, token)}` };
        }
      };
      return {
        ok: true,
        media: {
          identity: first.sha256 ?? null,
          declaredSize: typeof first.file_size === "number" ? first.file_size : null,
          async download(dest, maxBytes, dsignal) {
            const once = await fetchTo(first.url, dest, maxBytes, dsignal);
            if (once !== "expired") return once;
            // The URL expired between the lookup and the download: look it up again, once.
            let again: MediaMeta;
            try {
              again = await meta(att.ref!, token, dsignal);
            } catch (err) {
              return { ok: false, reason: "media_provider_error", detail: `media lookup (again): ${describe(err, token)}` };
            }
            const twice = await fetchTo(again.url, dest, maxBytes, dsignal);
            return twice === "expired" ? { ok: false, reason: "media_provider_error", detail: "the media URL expired twice" } : twice;
          },
        },
      };
    },
  };
}
