/**
 * @module Compose synchronous middleware `(ctx, next) => void` into one function, with the double-`next()`
 * guard of Hono's `compose.ts` and grammY's `Composer`. Stages are synchronous on purpose: the whole
 * decision for a batch commits in one SQLite transaction, which cannot span an `await`.
 */

export type Next = () => void;
export type Stage<C> = ((ctx: C, next: Next) => void) & { stageName?: string };

/** Name a stage for traces and errors. */
export function stage<C>(name: string, fn: (ctx: C, next: Next) => void): Stage<C> {
  const s = fn as Stage<C>;
  s.stageName = name;
  return s;
}

/** Run `stages` in order; a stage stops the chain by not calling `next()`. */
export function compose<C>(stages: readonly Stage<C>[]): (ctx: C) => void {
  return (ctx: C) => dispatch(stages, ctx, { index: -1 }, 0);
}

/**
 * Run stage `i` of one pass. A module-level function rather than a closure made per pass: under tsx (which keeps
 * function names by wrapping every named inner function in a call) a per-event named closure is measurable.
 */
function dispatch<C>(stages: readonly Stage<C>[], ctx: C, pass: { index: number }, i: number): void {
  if (i <= pass.index) throw new Error(`next() called multiple times in stage ${stages[pass.index]?.stageName ?? pass.index}`);
  pass.index = i;
  const fn = stages[i];
  if (!fn) return;
  fn(ctx, () => dispatch(stages, ctx, pass, i + 1));
}
