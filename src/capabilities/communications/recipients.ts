/**
 * @module How a recipient appears outside the previews: a stable hash for logs and the delivery table, and a
 * masked form an operator can recognise but not contact.
 */
import { createHash } from "node:crypto";

/** A stable, non-reversible key for logs and the delivery table (not a secret: do not treat it as one). */
export function recipientHash(recipient: string): string {
  return createHash("sha256").update(`tau-recipient\u0000${recipient}`).digest("hex").slice(0, 32);
}

/** `+1***4567` or `a***@example.com`: enough for an operator to recognise, not to contact. */
export function maskRecipient(recipient: string): string {
  const at = recipient.lastIndexOf("@");
  if (at > 0) return `${recipient[0]}***${recipient.slice(at)}`;
  if (recipient.length <= 6) return "***";
  return `${recipient.slice(0, 2)}***${recipient.slice(-4)}`;
}
