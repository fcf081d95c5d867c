/**
 * @module `npm run demo`: every scenario in fixtures/scenarios replayed end to end — real provider payloads
 * normalized into ingress, the runner deciding, dry-run outbound building the exact provider requests — in
 * throwaway state, with no network. Prints who said what, what tau decided and why, and what it would send.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { renderReplay } from "../src/replay/render-summary.ts";
import { runScenario } from "../src/replay/run-scenario.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dir = path.join(root, "fixtures", "scenarios");
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith(".yaml"))
  .sort();

process.stdout.write(
  [
    "tau demo — fixture scenarios replayed through the whole pipeline (ingest → dedupe → policy → route → command/responder → dry-run outbox).",
    "Nothing leaves this machine: dry-run writes the exact provider request (token redacted) instead of sending it.",
    "Reading guide: '→ outcome (reason)' is tau's decision with the reason code; 'via' lists each stage's decision; '↳ reply' is what would be sent.",
    "Buttons: 08-approval-by-button approves by pressing Approve (a Telegram callback_query) — answered with answerCallbackQuery, the prompt edited.",
    "",
  ].join("\n") + "\n",
);
let events = 0;
let replies = 0;
for (const f of files) {
  const r = await runScenario(path.join(dir, f));
  events += r.totals.events;
  replies += r.totals.replies;
  process.stdout.write(renderReplay(r) + "\n\n");
}
process.stdout.write(
  `demo done: ${files.length} scenarios, ${events} events decided, ${replies} replies built (dry-run). Try: npm run tau -- replay fixtures/scenarios/02-stranger-pairing.yaml --json\n`,
);
