/**
 * @module pino JSON logs with redaction declared once: tokens, secrets, message bodies and phone numbers
 * never reach a log line unless `telemetry.include_identifiers` is on (identifiers only, never secrets).
 */
import pino, { type Logger } from "pino";

/** Paths removed from every log line. Secrets are always removed. */
const SECRET_PATHS = [
  "token",
  "*.token",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "secret",
  "*.secret",
  "password",
  "*.password",
  "api_key",
  "*.api_key",
  "access_token",
  "*.access_token",
  "auth_token",
  "*.auth_token",
];

/** Paths removed unless identifiers are explicitly allowed. */
const PII_PATHS = ["text", "*.text", "body", "*.body", "phone", "*.phone", "to", "*.to", "from", "*.from", "email", "*.email"];

export type { Logger };

/** The one logger factory. Writes NDJSON to `destination` (stderr by default, so stdout stays for command output). */
export function createLogger(opts: { level: string; includeIdentifiers: boolean; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: opts.level,
      base: { app: "tau" },
      timestamp: pino.stdTimeFunctions.epochTime,
      redact: { paths: opts.includeIdentifiers ? SECRET_PATHS : [...SECRET_PATHS, ...PII_PATHS], censor: "[redacted]" },
    },
    opts.destination ?? pino.destination(2),
  );
}
