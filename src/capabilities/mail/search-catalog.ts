/**
 * @module Simulation-mode search over the stack contract's message catalog, with the live search's semantics:
 * case-insensitive substring on the chosen field, `*` or empty matches all, newest first, top N.
 */
import type { MailSearchQuery } from "../../contracts/mail-port.ts";
import type { CatalogMessage } from "./stack.ts";

/** One hit, in the same shape live and simulated searches return. */
export interface MailHit {
  /** UID (live) or catalog id (simulation), as a string. */
  id: string;
  uid: number | null;
  subject: string;
  from: string | null;
  date: string | null;
  snippet: string;
}

function haystack(m: CatalogMessage, field: MailSearchQuery["field"]): string {
  if (field === "subject") return m.subject;
  if (field === "from") return m.from;
  return [m.from, m.to, m.subject, m.snippet].join("\n");
}

/** Search the catalog: `mailbox` null means every mailbox. */
export function searchCatalog(
  catalog: readonly CatalogMessage[],
  q: MailSearchQuery & { mailbox: string | null; top: number },
): { total: number; hits: MailHit[] } {
  const needle = q.query.trim().toLowerCase();
  const all = needle === "" || needle === "*";
  const matches = catalog
    .filter((m) => q.mailbox === null || m.mailbox === q.mailbox)
    .filter((m) => all || haystack(m, q.field).toLowerCase().includes(needle))
    .sort((a, b) => Date.parse(b.date) - Date.parse(a.date) || b.id.localeCompare(a.id));
  const hits = matches.slice(0, q.top).map((m) => ({
    id: m.id,
    uid: null,
    subject: m.subject,
    from: m.from,
    date: new Date(Date.parse(m.date)).toISOString(),
    snippet: m.snippet,
  }));
  return { total: matches.length, hits };
}
