/**
 * @module `contacts.search` (`/tau contacts search <query> [--field name|email|phone|any] [--limit N]`, operator):
 * a CardDAV addressbook-query on the contract's address book, filtered again here (servers differ in what they
 * match), for the agent and for sends. Phone numbers match on their digits (`+49 151 234` finds `+491512345678`).
 */
import { z } from "zod";
import { defineCapability, failed, reported, type Capability, type CapabilityResult } from "../capability.ts";
import { countArg, text } from "./calendar-args.ts";
import { withCalendar, type CalendarRuntime, type CalendarSession } from "./calendar-context.ts";
import { CalendarError } from "./calendar-error.ts";
import type { VCardContact } from "./ical-codec.ts";

const Args = z
  .object({
    query: text(200),
    field: z.enum(["any", "name", "email", "phone"]).default("any"),
    limit: countArg(1, 100, 10),
    addressbook: text(200).optional(),
  })
  .strict();
type Args = z.infer<typeof Args>;

const digits = (s: string) => s.replace(/\D/g, "");

/** Does the contact match `query` on `field`? Case-insensitive; phones by digits (at least 3). */
export function contactMatches(c: VCardContact, query: string, field: Args["field"]): boolean {
  const q = query.trim().toLowerCase();
  const d = digits(query);
  const name = (field === "any" || field === "name") && (c.name.toLowerCase().includes(q) || (c.org ?? "").toLowerCase().includes(q));
  const email = (field === "any" || field === "email") && c.emails.some((e) => e.toLowerCase().includes(q));
  const phone = (field === "any" || field === "phone") && d.length >= 3 && c.phones.some((p) => digits(p).includes(d));
  return name || email || phone;
}

async function search(s: CalendarSession, args: Args): Promise<CapabilityResult> {
  const card = s.contract.carddav;
  if (!card)
    return failed("contacts_not_configured", "Contacts are not set up: add a carddav section to policies/communications/calendar.yaml.");
  const serverUrl = card.url ?? s.contract.caldav.url;
  const books = await s.client.addressBooks(serverUrl);
  const want = args.addressbook ?? card.addressbook;
  const seg = (u: string) => decodeURIComponent(new URL(u).pathname.replace(/\/+$/, "").split("/").pop() ?? "");
  const book = want ? books.find((b) => b.displayName === want || seg(b.url) === want) : books[0];
  if (!book)
    throw new CalendarError(
      "calendar_not_found",
      `no address book${want ? ` named "${want}"` : ""} for ${s.contract.caldav.user}${books.length ? ` (found: ${books.map((b) => b.displayName || seg(b.url)).join(", ")})` : ""}`,
    );
  // Server-side matching differs (some ignore the filter, some match only FN) and cannot match phone numbers by their
  // digits: a query with digits fetches the whole book, and the filter here is what counts.
  const serverTerm = args.field === "phone" || digits(args.query).length >= 3 ? "" : args.query.trim();
  let cards;
  try {
    cards = await s.client.searchContacts(book.url, serverTerm);
  } catch (err) {
    // A server that fails on the filter itself (Radicale 3.1 on some properties) still lists the whole book.
    if (!(err instanceof CalendarError) || err.reason !== "calendar_server_error" || serverTerm === "") throw err;
    cards = await s.client.searchContacts(book.url, "");
  }
  const { contacts, unreadable } = s.codec.parseVCards(cards.map((c) => c.data).join("\r\n"));
  const hits = contacts.filter((c) => contactMatches(c, args.query, args.field)).sort((a, b) => a.name.localeCompare(b.name));
  const shown = hits.slice(0, args.limit);
  const name = book.displayName || seg(book.url);
  const lines = shown.map((c) => [c.name, ...c.emails, ...c.phones, ...(c.org ? [c.org] : [])].join(" · "));
  const data = { addressbook: name, query: args.query, field: args.field, total: hits.length, contacts: shown, unreadable };
  return reported(
    hits.length ? "contacts_found" : "contacts_none",
    [
      `${hits.length} contact(s) in ${name} matching ${args.field} "${args.query}"${shown.length < hits.length ? ` (first ${shown.length})` : ""}${shown.length ? ":" : "."}`,
      ...lines,
    ].join("\n"),
    data,
  );
}

export function createSearchContactsCapability(rt: CalendarRuntime): Capability<Args> {
  return defineCapability({
    id: "contacts.search",
    alias: ["contacts", "search"],
    summary: "find contacts (CardDAV) by name, email or phone",
    args: Args,
    positional: ["query"],
    role: "operator",
    sideEffect: "read",
    approval: "none",
    run: (args, ctx) => withCalendar(ctx, rt, "Contacts search", (s) => search(s, args)),
  });
}
