/**
 * @module Media contracts: the per-attachment reason codes (PRODUCT.md §12), the record kept per attachment, and the
 * `MediaSource` port each platform implements in its connector folder (Telegram getFile + file path, Discord message
 * attachment URL, WhatsApp media id → URL with the bearer token). Sources resolve before they download, so a
 * duplicate (same stable file identity) or an oversized file (declared size) costs no download.
 */
import type { Attachment, Envelope } from "./envelope.ts";

export const MEDIA_REASONS = [
  "media_image_described",
  "media_audio_transcribed",
  "media_video_summarized",
  "media_unsupported_attachment_type",
  "media_attachment_limit_exceeded",
  "media_duplicate_attachment",
  "media_provider_error",
] as const;
export type MediaReason = (typeof MEDIA_REASONS)[number];

/** What one download came to. A stream past `maxBytes` is cut off and reported, never kept. */
export type DownloadOutcome =
  { ok: true; bytes: number } | { ok: false; reason: "media_attachment_limit_exceeded" | "media_provider_error"; detail: string };

/** A platform file found and ready to download. */
export interface ResolvedMedia {
  /** Stable identity across messages (Telegram file_unique_id, WhatsApp sha256, Discord attachment id); null if none. */
  identity: string | null;
  /** Size the platform declares, when it does (refused before download when over the cap). */
  declaredSize: number | null;
  /** Stream the file to `dest` (created 0600), cutting off past `maxBytes`. Never logs or returns a token. */
  download(dest: string, maxBytes: number, signal: AbortSignal): Promise<DownloadOutcome>;
}

export type ResolveOutcome = { ok: true; media: ResolvedMedia } | { ok: false; reason: "media_provider_error"; detail: string };

/** Per transport: find an attachment's file with the platform's own protocol. */
export interface MediaSource {
  transport: string;
  resolve(attachment: Attachment, env: Envelope, signal: AbortSignal): Promise<ResolveOutcome>;
}
