/** @module Human rendering of a replay: who said what, what tau decided and why (reason codes), what it would have sent. */
import type { ReplayResult } from "./run-scenario.ts";

const clip = (s: string, n = 110) => {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
};

/** One line for a responder's would-be request: where, which model, how many messages, which tools, the question. */
function describeResponderRequest(q: { method: string; url: string; body: unknown }): string {
  const b = (q.body ?? {}) as {
    model?: string;
    messages?: { role: string; content: unknown }[];
    tools?: { function?: { name?: string } }[];
  };
  const msgs = b.messages ?? [];
  const last = [...msgs].reverse().find((m) => m.role === "user");
  const tools = (b.tools ?? []).map((t) => t.function?.name).filter(Boolean);
  return `${q.method} ${q.url}${b.model ? ` model ${b.model}` : ""}, ${msgs.length} message(s)${tools.length ? `, tools ${tools.join(", ")}` : ""}${last ? `, asking "${clip(String(last.content), 60)}"` : ""}`;
}

export function renderReplay(r: ReplayResult): string {
  const out: string[] = [`▶ ${r.scenario} — ${r.description}`];
  for (const s of r.steps) {
    switch (s.kind) {
      case "say":
        out.push(`  ${s.step}. ${s.text}`);
        break;
      case "ingest":
        out.push(
          `     ingest ${s.transport}: ${s.accepted} event(s)${s.event_ids.length ? ` (${s.event_ids.join(", ")})` : ""}${s.refused.length ? `; refused ${s.refused.join("; ")}` : ""}${s.ignored.length ? `; ${s.ignored.join(", ")}` : ""}`,
        );
        break;
      case "operator":
        out.push(`     operator ${s.principal} runs ${s.capability}: ${s.status} (${s.reason_code}) — ${clip(s.text)}`);
        break;
      case "process": {
        out.push(`     runner: ${s.events.length} event(s) decided`);
        if (s.quarantined) out.push(`     runner quarantined ${s.quarantined} malformed line(s) and carried on`);
        if (s.duplicates) out.push(`     runner skipped ${s.duplicates} duplicate redelivery(ies) (duplicate_event_skipped)`);
        for (const e of s.events) {
          out.push(`     ${e.transport} ${e.chat_type} from ${e.actor}: "${clip(e.text, 70)}"`);
          out.push(`       → ${e.outcome} (${e.reason}) via ${e.decisions.join(" › ")}`);
          if (e.route) out.push(`         route ${e.route}`);
          for (const rep of s.replies.filter((x) => x.event_id === e.event_id)) {
            const where = rep.requests[0] ? `${rep.requests[0].method} ${rep.requests[0].url}` : (rep.reason ?? rep.status);
            if (rep.responder_request)
              out.push(
                `       ↳ ${rep.responder_request.responder} request (dry-run, not sent): ${describeResponderRequest(rep.responder_request)}`,
              );
            out.push(
              `       ↳ reply (${rep.purpose}, ${rep.chunks} chunk${rep.chunks === 1 ? "" : "s"}): "${clip(rep.text, 90)}" → ${where}`,
            );
          }
        }
        for (const rep of s.replies.filter((x) => !s.events.some((e) => e.event_id === x.event_id))) {
          const where = rep.requests[0] ? `${rep.requests[0].method} ${rep.requests[0].url}` : (rep.reason ?? rep.status);
          out.push(
            `       ↳ reply (${rep.purpose}${rep.event_id ? ` to ${rep.event_id}` : ""}, ${rep.chunks} chunk${rep.chunks === 1 ? "" : "s"}): "${clip(rep.text, 90)}" → ${where}`,
          );
        }
        break;
      }
    }
  }
  out.push(
    `  = ${r.totals.events} events, ${r.totals.replies} replies, ${r.totals.duplicates} duplicates, ${r.totals.quarantined} quarantined (outbound ${r.outbound})`,
  );
  return out.join("\n");
}
