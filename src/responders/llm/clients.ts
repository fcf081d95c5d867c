/**
 * @module Load the model client of a provider on first use: each adapter (and so its SDK, ~100–300 ms to import)
 * is imported only when a responder of that provider first runs, probes or describes a request.
 */
import type { ModelClient, ModelClientOptions } from "./model-client.ts";

export type LlmProvider = ModelClient["provider"];

/** A client for `provider`, created once per options value by the caller. */
export async function loadModelClient(provider: LlmProvider, opts: ModelClientOptions): Promise<ModelClient> {
  switch (provider) {
    case "openai":
      return (await import("./openai.ts")).createOpenAIClient(opts);
    case "anthropic":
      return (await import("./anthropic.ts")).createAnthropicClient(opts);
    case "gemini":
      return (await import("./gemini.ts")).createGeminiClient(opts);
  }
}
