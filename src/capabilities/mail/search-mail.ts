/**
 * @module `communications.mail.search` (`/tau mail search <query> [--top N] [--mailbox M] [--field F]`): newest
 * first, top N. Live mode searches the IMAP server (SEARCH, then FETCH of the top N only); simulation searches
 * the contract catalog. `--mailbox` takes a mailbox id from the contract (or, live, an IMAP folder name).
 */
import { z } from "zod";
import { defineCapability, failed, reported, type Capability } from "../capability.ts";
import { countArg } from "./args.ts";
import { failedFrom, imapConfigOf, loadStackFor, withImapSession, type MailRuntime } from "./mail-context.ts";
import { searchCatalog, type MailHit } from "./search-catalog.ts";
import { resolveFolder } from "./stack.ts";

const SearchArgs = z
  .object({
    query: z.string().max(500).default("*"),
    top: countArg(1, 50, 5),
    mailbox: z.string().min(1).max(400).optional(),
    field: z.enum(["subject", "from", "text"]).default("subject"),
  })
  .strict();
type SearchArgs = z.infer<typeof SearchArgs>;

function render(hits: MailHit[], total: number, where: string, args: SearchArgs): string {
  const head = `${hits.length} of ${total} message${total === 1 ? "" : "s"} in ${where} matching ${args.field} "${args.query}" (newest first)${hits.length ? ":" : "."}`;
  const lines = hits.map(
    (h, i) =>
      `${i + 1}. ${h.date ? h.date.slice(0, 16).replace("T", " ") : "(no date)"}  ${h.from ?? "(no sender)"}  ${h.subject || "(no subject)"}`,
  );
  return [head, ...lines].join("\n");
}

export function createSearchMailCapability(rt: MailRuntime): Capability<SearchArgs> {
  return defineCapability({
    id: "communications.mail.search",
    alias: ["mail", "search"],
    summary: "search mail (subject/from/text), newest first: live IMAP or the simulation catalog",
    args: SearchArgs,
    positional: ["query"],
    role: "operator",
    sideEffect: "read",
    approval: "none",
    run: async (args, ctx) => {
      const loaded = loadStackFor(ctx.services);
      if (!loaded.ok) return loaded.result;
      const stack = loaded.stack;
      if (stack.mode === "simulation") {
        const { total, hits } = searchCatalog(stack.catalog, {
          field: args.field,
          query: args.query,
          mailbox: args.mailbox ?? null,
          top: args.top,
        });
        const data = { mode: stack.mode, mailbox: args.mailbox ?? null, query: args.query, field: args.field, top: args.top, total, hits };
        return reported("mail_search_ok", render(hits, total, args.mailbox ?? "the catalog", args), data);
      }
      const where = resolveFolder(stack, args.mailbox);
      if (!where.ok) return failed(where.reason, `Mail search: ${where.detail}.`, { mode: stack.mode, mailbox: args.mailbox ?? null });
      const mailbox = where.folder;
      try {
        const { total, hits } = await withImapSession(rt.adapters, imapConfigOf(stack, ctx.services, rt.timeoutMs), (s) =>
          s.search(mailbox, { field: args.field, query: args.query }, args.top),
        );
        const out: MailHit[] = hits.map((h) => ({
          id: String(h.uid),
          uid: h.uid,
          subject: h.subject,
          from: h.from,
          date: h.date,
          snippet: h.snippet,
        }));
        const data = { mode: stack.mode, mailbox, query: args.query, field: args.field, top: args.top, total, hits: out };
        return reported("mail_search_ok", render(out, total, mailbox, args), data);
      } catch (err) {
        return failedFrom(err, "Mail search");
      }
    },
  });
}
