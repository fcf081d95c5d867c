/**
 * @module `communications.mailboxes.list` (`/tau mailboxes list`): the stack's mode and mailbox roster. Live mode
 * merges the IMAP login's folders (special-use, message counts) with the declared mailboxes; simulation counts
 * the catalog. Mailboxes of other accounts are listed as declared, unchecked.
 */
import { z } from "zod";
import { defineCapability, reported, type Capability } from "../capability.ts";
import { failedFrom, imapConfigOf, loadStackFor, withImapSession, type MailRuntime } from "./mail-context.ts";
import type { MailStackConfig } from "./stack.ts";

/** One row of the roster. `exists`/`messages` are null where nobody asked a server (simulation, other accounts). */
interface MailboxRow {
  /** Mailbox id from the contract; null for a server folder the contract does not declare. */
  id: string | null;
  address: string;
  role: string | null;
  folder: string;
  special_use: string | null;
  declared: boolean;
  active: boolean | null;
  exists: boolean | null;
  messages: number | null;
}

function declaredRows(stack: MailStackConfig): MailboxRow[] {
  return stack.mailboxes.map((m) => ({
    id: m.id,
    address: m.address,
    role: m.role,
    folder: m.folder,
    special_use: null,
    declared: true,
    active: m.active,
    exists: null,
    messages: null,
  }));
}

function render(stack: MailStackConfig, rows: MailboxRow[]): string {
  const lines = rows.map((r) => {
    const name = r.id ? `${r.id} <${r.address}> ${r.folder}` : `${r.address} ${r.folder}`;
    const flags = [
      r.role ? `role ${r.role}` : null,
      r.special_use,
      r.declared ? null : "undeclared",
      r.active === false ? "inactive" : null,
      r.exists === false ? "MISSING on server" : null,
    ]
      .filter(Boolean)
      .join(", ");
    return `- ${name}${r.messages !== null ? ` (${r.messages})` : ""}${flags ? `: ${flags}` : ""}`;
  });
  return [`Mailboxes (${stack.mode}; IMAP login ${stack.imap.user}):`, ...lines].join("\n");
}

export function createListMailboxesCapability(rt: MailRuntime): Capability<Record<string, never>> {
  return defineCapability({
    id: "communications.mailboxes.list",
    alias: ["mailboxes", "list"],
    summary: "mail stack mode and mailbox roster (declared roles, server folders, message counts)",
    args: z.object({}).strict() as z.ZodType<Record<string, never>>,
    role: "operator",
    sideEffect: "read",
    approval: "none",
    run: async (_args, ctx) => {
      const loaded = loadStackFor(ctx.services);
      if (!loaded.ok) return loaded.result;
      const stack = loaded.stack;
      const rows = declaredRows(stack);
      if (stack.mode === "simulation") {
        for (const r of rows) r.messages = stack.catalog.filter((c) => c.mailbox === r.id).length;
      } else {
        try {
          const listed = await withImapSession(rt.adapters, imapConfigOf(stack, ctx.services, rt.timeoutMs), (s) => s.listMailboxes());
          const byFolder = new Map(listed.map((m) => [m.path, m]));
          const covered = new Set<string>();
          for (const [i, m] of stack.mailboxes.entries()) {
            if (!m.on_imap_account) continue;
            const l = byFolder.get(m.folder);
            rows[i] = { ...rows[i]!, special_use: l?.specialUse ?? null, exists: l !== undefined, messages: l?.messages ?? null };
            covered.add(m.folder);
          }
          for (const l of listed) {
            if (covered.has(l.path)) continue;
            rows.push({
              id: null,
              address: stack.imap.user,
              role: null,
              folder: l.path,
              special_use: l.specialUse,
              declared: false,
              active: null,
              exists: true,
              messages: l.messages,
            });
          }
        } catch (err) {
          return failedFrom(err, "Mailbox list");
        }
      }
      return reported("mailboxes_listed", render(stack, rows), { mode: stack.mode, imap_user: stack.imap.user, mailboxes: rows });
    },
  });
}
