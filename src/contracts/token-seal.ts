/**
 * @module A provider's short-lived credential that has to travel through tau's state (a Discord interaction token:
 * 15 minutes to answer the interaction) is sealed where it enters — the connector — and opened only where it is used —
 * the sender. Ingress lines, job rows, the outbox, quarantine records and backups hold the sealed form.
 */
export interface TokenSeal {
  /** The sealed form of `token` (throws when no key can seal: fail closed). */
  seal(token: string): string;
  /** The token `seal` sealed; a value that was never sealed (older lines, fixtures) comes back as it is. */
  open(value: string): string;
}
