/** A Discord interaction token answers as the app for 15 minutes: no log line keeps one, identifiers allowed or not. */
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../src/log.ts";

const TOKEN = "aW50ZXJhY3Rpb246MTQwMDAwMDAwMDAwMDAwMDAwMTpzZWNyZXQ";

function sink(): { stream: Writable; text: () => string; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  let raw = "";
  const stream = new Writable({
    write(chunk, _enc, cb) {
      raw += String(chunk);
      for (const l of String(chunk).split("\n")) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { stream, text: () => raw, lines };
}

describe("interaction tokens are redacted from logs", () => {
  for (const includeIdentifiers of [false, true]) {
    it(`at the top level, in an envelope's meta and in a reply target (identifiers ${includeIdentifiers ? "allowed" : "hidden"})`, async () => {
      const s = sink();
      createLogger({ level: "info", includeIdentifiers, destination: s.stream }).info(
        {
          event: "discord.interaction",
          interaction_token: TOKEN,
          meta: { interaction_id: "1400000000000000001", interaction_token: TOKEN },
          job: { target: { interaction: { interaction_token: TOKEN, application_id: "1100000000000000001" } } },
          action: { kind: "followup", interaction_token: TOKEN },
        },
        "interaction",
      );
      await new Promise((r) => setImmediate(r));
      expect(s.lines[0]).toMatchObject({
        interaction_token: "[redacted]",
        meta: { interaction_id: "1400000000000000001", interaction_token: "[redacted]" },
        action: { kind: "followup", interaction_token: "[redacted]" },
      });
      expect(s.text()).not.toContain(TOKEN);
    });
  }
});
