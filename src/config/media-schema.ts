/**
 * @module The `media:` section of `tau.yaml` (attachment understanding for responders). Bounded, honest defaults:
 * on, at most 4 attachments per message, summaries of at most 280 characters, size caps per kind, files deleted
 * after use. Vision goes through the llm responder's own provider; transcription through an OpenAI-compatible
 * `/audio/transcriptions` endpoint (OpenAI, whisper.cpp server, faster-whisper) or Gemini audio input when configured.
 */
import { z } from "zod";

/** Defaults computed once at load: zod's interpreter, not a JIT-compiled parser per schema (src/config/load-yaml.ts `ONCE`). */
const DEFAULTS_ONCE = { jitless: true } as const;

const MB = 1024 * 1024;

const MaxBytesSchema = z
  .object({
    image: z
      .number()
      .int()
      .positive()
      .default(10 * MB),
    audio: z
      .number()
      .int()
      .positive()
      .default(20 * MB),
    video: z
      .number()
      .int()
      .positive()
      .default(20 * MB),
    document: z
      .number()
      .int()
      .positive()
      .default(10 * MB),
  })
  .strict();

const TranscriptionSchema = z
  .object({
    provider: z.enum(["openai", "gemini"]).default("openai"),
    /** OpenAI-compatible root including /v1 (whisper.cpp: its --inference-path must be /v1/audio/transcriptions). */
    base_url: z.string().url().optional(),
    /** Default: `whisper-1` (openai), `gemini-2.5-flash` (gemini). */
    model: z.string().min(1).optional(),
    /** Integration store id of the key; defaults to `<provider>-api-key`. */
    api_key_secret: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "an integration store id like openai-api-key")
      .optional(),
    timeout_ms: z.number().int().min(100).max(600_000).default(60_000),
  })
  .strict();

export const MediaSchema = z
  .object({
    understanding: z.boolean().default(true),
    max_attachments: z.number().int().min(0).max(20).default(4),
    max_summary_chars: z.number().int().min(20).max(4000).default(280),
    /** Keep downloaded files under state/media/ after use (debugging); default: deleted. */
    keep: z.boolean().default(false),
    max_bytes: MaxBytesSchema.default(MaxBytesSchema.parse({}, DEFAULTS_ONCE)),
    /** Audio transcription; without it voice notes get `media_unsupported_attachment_type` (never a fake transcript). */
    transcription: TranscriptionSchema.optional(),
  })
  .strict();

export type MediaConfig = z.infer<typeof MediaSchema>;

/** The transcription model: as configured, else the provider's usual one. */
export const transcriptionModelOf = (t: { provider: "openai" | "gemini"; model?: string }): string =>
  t.model ?? (t.provider === "openai" ? "whisper-1" : "gemini-2.5-flash");
