/**
 * @module The decision pipeline (PRODUCT.md §5): dedupe → transport gate → self/bot filter → non-message
 * kinds → policy → route → dispatch. Each stage is one file under `stages/`; this file only orders them.
 */
import { compose, type Stage } from "./compose.ts";
import type { EventContext } from "./context.ts";

/** Compose the given stages in the product's order. Missing stages (e.g. policy before it is loaded) fail closed upstream. */
export function buildPipeline(stages: {
  dedupe: Stage<EventContext>;
  gate?: Stage<EventContext>;
  selfBot: Stage<EventContext>;
  kind: Stage<EventContext>;
  policy: Stage<EventContext>[];
  route: Stage<EventContext>;
  dispatch: Stage<EventContext>;
}): (ctx: EventContext) => void {
  return compose<EventContext>([
    stages.dedupe,
    ...(stages.gate ? [stages.gate] : []),
    stages.selfBot,
    stages.kind,
    ...stages.policy,
    stages.route,
    stages.dispatch,
  ]);
}
