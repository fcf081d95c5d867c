/**
 * @module Understand a message's attachments before its responder answers: per attachment, one honest record
 * (processed | skipped | failed, a reason code, a summary of at most `media.max_summary_chars`). Images go to the
 * responder's model as data (never the platform URL, which carries the bot token), audio to the transcription
 * endpoint (or a model that takes audio), video only to a model that takes it. Files are fetched with the platform's
 * protocol, refused from the declared size, cut off past the cap, typed by magic bytes, and deleted after use.
 * Nothing is ever reported as understood that was not.
 */
import fs from "node:fs";
import path from "node:path";
import type { Attachment, Envelope } from "../contracts/envelope.ts";
import type { MediaReason, MediaSource } from "../contracts/media.ts";
import type { MediaConfig } from "../config/index.ts";
import type { MediaCacheRow, MediaRecordRow, Store } from "../store/index.ts";
import type { ModelClient, ModelUsage, TranscriptionClient } from "../responders/llm/model-client.ts";
import { ModelError } from "../responders/llm/model-client.ts";
import { sniff, SNIFF_BYTES, type MediaKind } from "./sniff.ts";

export interface MediaDeps {
  config: MediaConfig;
  store: Pick<Store, "media" | "atomically">;
  source(transport: string): MediaSource | undefined;
  /** The responder's model (vision, and audio/video where it accepts them); null for a webhook responder. */
  model: { client: ModelClient; model: string } | null;
  transcriber: TranscriptionClient | null;
  /** Folder for downloads (0700); files are deleted after use unless `media.keep`. */
  dir: string;
  clock(): number;
  signal: AbortSignal;
  /** Each model or transcription call, for usage telemetry. */
  onCall(r: { usage: ModelUsage; latency_ms: number; reason: string }): void;
}

export interface MediaResult {
  records: MediaRecordRow[];
  /** Lines for the model's context: what each attachment is, or honestly that it was not understood. */
  context: string;
}

/** Longest transcript passed to the model (the record keeps the short summary). */
const MAX_CONTEXT_TRANSCRIPT = 8000;

const KIND_OF: Record<Attachment["kind"], MediaKind | null> = {
  image: "image",
  sticker: "image",
  audio: "audio",
  voice: "audio",
  video: "video",
  document: "document",
  location: null,
  contact: null,
  other: null,
};

const PROMPT: Record<"image" | "video", string> = {
  image: "Describe this image for an on-call engineer: what it shows, any error text verbatim. Be brief.",
  video: "Summarize this video for an on-call engineer: what happens, any error text verbatim. Be brief.",
};

const clip = (s: string, n: number): string => {
  const one = s.replace(/\s+/g, " ").trim();
  const cps = [...one];
  return cps.length <= n ? one : `${cps.slice(0, n - 1).join("")}…`;
};

export async function understandAttachments(env: Envelope, deps: MediaDeps): Promise<MediaResult> {
  const { config } = deps;
  const records: MediaRecordRow[] = [];
  const context: string[] = [];
  const seen = new Map<string, MediaRecordRow>();
  for (const [idx, att] of env.attachments.entries()) {
    const base = {
      event_id: env.event_id,
      idx,
      kind: att.kind,
      file_identity: null,
      detected_mime: null,
      bytes: null,
      at_ms: deps.clock(),
    };
    const put = (
      status: MediaRecordRow["status"],
      reason: MediaReason,
      summary: string | null,
      extra: Partial<MediaRecordRow> = {},
      cache?: MediaCacheRow,
    ) => {
      const r: MediaRecordRow = {
        ...base,
        status,
        reason,
        summary: summary === null ? null : clip(summary, config.max_summary_chars),
        ...extra,
      };
      records.push(r);
      // The record and the result kept for duplicates commit together (one fsync, not two).
      deps.store.atomically(() => {
        deps.store.media.putRecord(r);
        if (cache) deps.store.media.cache(cache);
      });
      return r;
    };
    if (idx >= config.max_attachments) {
      put("skipped", "media_attachment_limit_exceeded", `more than ${config.max_attachments} attachments`);
      context.push(`[attachment ${idx + 1} (${att.kind}): not looked at — over the limit of ${config.max_attachments}]`);
      continue;
    }
    const kind = KIND_OF[att.kind];
    const why = unsupportedWhy(kind, deps);
    if (!config.understanding || why) {
      put("skipped", "media_unsupported_attachment_type", config.understanding ? why : "media.understanding is off");
      context.push(`[attachment ${idx + 1} (${att.kind}): not understood — ${config.understanding ? why : "media understanding is off"}]`);
      continue;
    }
    const source = deps.source(env.transport);
    if (!source || att.ref === null) {
      put("skipped", "media_unsupported_attachment_type", `no way to fetch ${env.transport} attachments`);
      context.push(`[attachment ${idx + 1} (${att.kind}): not understood — cannot be fetched]`);
      continue;
    }
    const one = await understandOne(env, att, kind!, idx, source, deps, seen);
    const r = put(one.status, one.reason, one.summary, one.extra, one.cache);
    if (r.file_identity && r.status === "processed") seen.set(r.file_identity, r);
    context.push(
      r.status === "processed"
        ? `[attachment ${idx + 1} (${one.extra.detected_mime ?? att.kind}): ${one.context ?? r.summary}]`
        : `[attachment ${idx + 1} (${att.kind}): not understood — ${r.reason}${r.summary ? `: ${r.summary}` : ""}]`,
    );
  }
  return { records, context: context.join("\n") };
}

/** Why an attachment of this kind cannot be understood with what is configured; null when it can. */
function unsupportedWhy(kind: MediaKind | null, deps: MediaDeps): string | null {
  if (kind === null) return "not a file";
  if (kind === "document") return "documents are not read";
  if (kind === "image")
    return deps.model?.client.acceptsMedia("image/png") ? null : "no model that takes images is configured for this responder";
  if (kind === "audio")
    return deps.transcriber || deps.model?.client.acceptsMedia("audio/ogg") ? null : "no transcription is configured (media.transcription)";
  return deps.model?.client.acceptsMedia("video/mp4") ? null : "the configured model does not take video";
}

/** Audio types the OpenAI-compatible transcription endpoint takes (it decides by the file name's extension). */
const TRANSCRIBABLE: Record<string, string> = {
  "audio/ogg": "ogg",
  "audio/wav": "wav",
  "audio/mpeg": "mp3",
  "audio/mp4": "m4a",
  "audio/flac": "flac",
  "audio/webm": "webm",
};

/** The exact type must be one the model (or the transcriber) takes, not just its kind. */
function unsupportedMime(kind: MediaKind, mime: string, deps: MediaDeps): string | null {
  if (kind === "audio" && deps.transcriber)
    return deps.transcriber.provider === "gemini" || TRANSCRIBABLE[mime] ? null : `${mime} cannot be transcribed`;
  return deps.model?.client.acceptsMedia(mime) ? null : `the configured model does not take ${mime}`;
}

interface One {
  status: MediaRecordRow["status"];
  reason: MediaReason;
  summary: string | null;
  context?: string;
  extra: Partial<MediaRecordRow>;
  /** A result to keep for duplicates (written with the record). */
  cache?: MediaCacheRow;
}

async function understandOne(
  env: Envelope,
  att: Attachment,
  declared: MediaKind,
  idx: number,
  source: MediaSource,
  deps: MediaDeps,
  seen: Map<string, MediaRecordRow>,
): Promise<One> {
  const cap = deps.config.max_bytes[declared];
  const resolved = await source.resolve(att, env, deps.signal);
  if (!resolved.ok) return { status: "failed", reason: resolved.reason, summary: resolved.detail, extra: {} };
  const identity = resolved.media.identity ? `${env.transport}:${resolved.media.identity}` : null;
  if (identity) {
    const earlier = seen.get(identity) ?? deps.store.media.cached(identity);
    if (earlier?.summary) {
      return {
        status: "processed",
        reason: "media_duplicate_attachment",
        summary: earlier.summary,
        extra: { file_identity: identity, detected_mime: earlier.detected_mime },
      };
    }
  }
  const size = resolved.media.declaredSize ?? att.size;
  if (size !== null && size > cap)
    return {
      status: "skipped",
      reason: "media_attachment_limit_exceeded",
      summary: `${size} bytes is over the ${declared} cap of ${cap}`,
      extra: { file_identity: identity, bytes: size },
    };
  fs.mkdirSync(deps.dir, { recursive: true, mode: 0o700 });
  const file = path.join(deps.dir, `${Buffer.from(env.event_id).toString("base64url").slice(0, 80)}-${idx}`);
  try {
    const got = await resolved.media.download(file, cap, deps.signal);
    if (!got.ok) return { status: "failed", reason: got.reason, summary: got.detail, extra: { file_identity: identity } };
    if (resolved.media.declaredSize !== null && got.bytes < resolved.media.declaredSize)
      return {
        status: "failed",
        reason: "media_provider_error",
        summary: `truncated download: ${got.bytes} of ${resolved.media.declaredSize} bytes`,
        extra: { file_identity: identity, bytes: got.bytes },
      };
    const bytes = fs.readFileSync(file);
    const type = sniff(bytes.subarray(0, SNIFF_BYTES));
    const extra: Partial<MediaRecordRow> = { file_identity: identity, bytes: bytes.length, detected_mime: type?.mime ?? null };
    if (!type)
      return {
        status: "skipped",
        reason: "media_unsupported_attachment_type",
        summary: bytes.length ? "unknown file type" : "empty file",
        extra,
      };
    // The bytes decide what it is, whatever was claimed; what it is must be something tau can understand.
    const why = unsupportedWhy(type.kind, deps) ?? unsupportedMime(type.kind, type.mime, deps);
    if (why) return { status: "skipped", reason: "media_unsupported_attachment_type", summary: `${type.mime}: ${why}`, extra };
    const result = await interpret(type.kind, type.mime, bytes, deps);
    if (!result.ok) return { status: "failed", reason: "media_provider_error", summary: result.detail, extra };
    const reason: MediaReason =
      type.kind === "image" ? "media_image_described" : type.kind === "audio" ? "media_audio_transcribed" : "media_video_summarized";
    const summary = clip(result.text, deps.config.max_summary_chars);
    return {
      status: "processed",
      reason,
      summary,
      ...(identity
        ? { cache: { file_identity: identity, kind: type.kind, reason, summary, detected_mime: type.mime, at_ms: deps.clock() } }
        : {}),
      context: type.kind === "audio" ? `transcript: ${clip(result.text, MAX_CONTEXT_TRANSCRIPT)}` : summary,
      extra,
    };
  } finally {
    if (!deps.config.keep) fs.rmSync(file, { force: true });
  }
}

/** Ask the model (or the transcriber) what the bytes are; a failure is a `media_provider_error`, never a made-up summary. */
async function interpret(
  kind: MediaKind,
  mime: string,
  bytes: Buffer,
  deps: MediaDeps,
): Promise<{ ok: true; text: string } | { ok: false; detail: string }> {
  const started = deps.clock();
  try {
    if (kind === "audio" && deps.transcriber) {
      const t = await deps.transcriber.transcribe(
        { bytes, mime, filename: `voice.${mime.split("/")[1] ?? "bin"}` },
        { signal: deps.signal },
      );
      deps.onCall({ usage: t.usage, latency_ms: deps.clock() - started, reason: "media_audio_transcribed" });
      return t.text.trim() ? { ok: true, text: t.text } : { ok: false, detail: "the transcription was empty" };
    }
    const m = deps.model!;
    const prompt =
      kind === "audio" ? "Transcribe this audio verbatim. Answer with the transcript only." : PROMPT[kind as "image" | "video"];
    const answer = await m.client.complete(
      {
        model: m.model,
        system: "You describe attachments for an operations chat bot. Never guess beyond what is visible or audible.",
        messages: [{ role: "user", text: prompt, media: [{ mime, base64: bytes.toString("base64") }] }],
        tools: [],
        maxOutputTokens: 400,
      },
      { signal: deps.signal },
    );
    deps.onCall({ usage: answer.usage, latency_ms: deps.clock() - started, reason: `media_${kind}` });
    return answer.text.trim() ? { ok: true, text: answer.text } : { ok: false, detail: "the model gave an empty answer" };
  } catch (err) {
    const reason = err instanceof ModelError ? err.reason : "error";
    deps.onCall({ usage: { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 }, latency_ms: deps.clock() - started, reason });
    if (deps.signal.aborted) throw err;
    return { ok: false, detail: `${reason}: ${String((err as Error).message ?? err).slice(0, 160)}` };
  }
}
