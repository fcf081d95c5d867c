/** @module The shared NormalizeResult builders, with WhatsApp's `from` (the sender: wa_id or BSUID, a 1:1 conversation's key) as an id field. */
import type { z } from "zod";
import { refuseZod as refuseZodShared, type Refusal } from "../shared/normalize-result.ts";

export { compactMeta, finalize, refuse, refusedItem, type MetaInput, type Refusal } from "../shared/normalize-result.ts";

export function refuseZod(error: z.ZodError, raw: unknown, base: readonly PropertyKey[] = []): Refusal {
  return refuseZodShared(error, raw, base, ["from"]);
}
