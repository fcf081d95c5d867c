/**
 * @module Errors: few classes, stable codes, always the cause (STYLE.md §5). One style: `code` is SCREAMING_SNAKE
 * (what scripts match in `--json` errors); `reason` is the lowercase reason code of PRODUCT.md that the error
 * stands for (`missing_telegram_bot_token`), the same word outcomes, statuses and health report.
 */

export interface TauErrorOptions {
  cause?: unknown;
  /** Structured detail for `--json` output and logs; never secrets. */
  details?: Record<string, unknown>;
  /** What the operator should do about it. */
  hint?: string;
  /** The PRODUCT.md reason code this error stands for; defaults to the lowercase `code`. */
  reason?: string;
}

const SCREAMING_SNAKE = /^[A-Z][A-Z0-9_]*$/;

/** Base error: a stable code, a message that names the file/field/fix where there is one. */
export class TauError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;
  readonly hint: string | undefined;
  /** Lowercase reason code (PRODUCT.md) for outcomes, statuses and health. */
  readonly reason: string;
  constructor(code: string, message: string, options: TauErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (!SCREAMING_SNAKE.test(code))
      throw new TypeError(`error code "${code}" must be SCREAMING_SNAKE (pass the reason code as options.reason)`);
    this.name = "TauError";
    this.code = code;
    this.reason = options.reason ?? code.toLowerCase();
    this.details = options.details ?? {};
    this.hint = options.hint;
  }
  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}), details: this.details };
  }
}

/** Bad configuration or policy file: carries the file path and, where known, the YAML line/column and field. */
export class ConfigError extends TauError {
  constructor(message: string, options: TauErrorOptions & { file: string; line?: number; column?: number; field?: string }) {
    super("CONFIG_INVALID", message, {
      ...options,
      details: { file: options.file, line: options.line, column: options.column, field: options.field, ...options.details },
    });
    this.name = "ConfigError";
  }
}

/** Input that failed a schema (CLI arguments, `/tau` arguments, payloads). */
export class ValidationError extends TauError {
  constructor(code: string, message: string, options: TauErrorOptions = {}) {
    super(code, message, options);
    this.name = "ValidationError";
  }
}

/** A provider call failed; carries provider, operation and HTTP status, never the token. */
export class ProviderError extends TauError {
  readonly provider: string;
  readonly operation: string;
  readonly status: number | null;
  constructor(
    code: string,
    message: string,
    options: TauErrorOptions & { provider: string; operation: string; status: number | null; retryAfterMs?: number },
  ) {
    super(code, message, options);
    this.name = `ProviderError[${options.provider}:${options.operation}]`;
    this.provider = options.provider;
    this.operation = options.operation;
    this.status = options.status;
  }
}

/** Exit codes scripts can trust. */
export const EXIT = { ok: 0, failure: 1, usage: 2, degraded: 1, failing: 2, config: 3 } as const;

/** Render any thrown value as a one-line message, never `[object Object]`. */
export function describeError(err: unknown): string {
  if (err instanceof TauError) return `${err.code}: ${err.message}${err.hint ? ` (fix: ${err.hint})` : ""}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
