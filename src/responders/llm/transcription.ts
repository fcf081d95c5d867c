/**
 * @module Load the speech-to-text client of a provider on first use (PROVIDERS.md §9.3): `openai` is any
 * OpenAI-compatible `/audio/transcriptions` endpoint (OpenAI, whisper.cpp's server, faster-whisper/speaches), `gemini`
 * sends the audio as inline data to `generateContent` and asks for a verbatim transcript. The SDK code lives in the
 * adapter files (`openai.ts`, `gemini.ts`, the only files allowed to import their SDKs); this file imports neither,
 * and imports the adapter itself only when a transcriber is first needed.
 */
import type { ModelClientOptions, TranscriptionClient } from "./model-client.ts";

export type TranscriptionProvider = TranscriptionClient["provider"];

/** Where and how to call, as for a model client, plus the transcription model (`whisper-1`, `gemini-2.5-flash`, …). */
export type TranscriptionClientOptions = ModelClientOptions & { model: string };

/** A transcription client for `provider`, created once per options value by the caller. */
export async function loadTranscriptionClient(
  provider: TranscriptionProvider,
  opts: TranscriptionClientOptions,
): Promise<TranscriptionClient> {
  switch (provider) {
    case "openai":
      return (await import("./openai.ts")).createOpenAITranscriptionClient(opts);
    case "gemini":
      return (await import("./gemini.ts")).createGeminiTranscriptionClient(opts);
  }
}
