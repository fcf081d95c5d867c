/**
 * @module Errors: few classes, stable SCREAMING_SNAKE codes, always the cause (STYLE.md §5).
 */

export interface TauErrorOptions {
  cause?: unknown;
  /** Structured detail for `--json` output and logs; never secrets. */
  details?: Record<string, unknown>;
  /** What the operator should do about it. */
  hint?: string;
}

/** Base error: a stable code, a message that names the file/field/fix where there is one. */
export class TauError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;
  readonly hint: string | undefined;
  constructor(code: string, message: string, options: TauErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TauError";
    this.code = code;
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
