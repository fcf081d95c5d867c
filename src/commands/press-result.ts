/**
 * @module After a button press ran its capability (the same approve / deny / pairing path as the typed command):
 * the replies that answer it, and retiring the decided target's buttons so a second press reads "already decided".
 */
import type { ReplyIntent, ReplyTarget } from "../contracts/outbound.ts";
import type { Store } from "../store/index.ts";
import { callbackReplies } from "./callback-replies.ts";
import { failureText, scrubInternals } from "./reason-sentences.ts";

/** Capabilities a button runs, and the argument naming what they decide. */
const DECIDES: Record<string, "id" | "code"> = {
  "tau.approve": "id",
  "tau.deny": "id",
  "tau.pairing.approve": "code",
  "tau.pairing.deny": "code",
};

/** Mark the buttons of what `capabilityId` just decided (an approval id, a pairing code) used. */
export function retireButtons(
  store: Pick<Store, "buttons">,
  capabilityId: string,
  args: Record<string, unknown>,
  by: string,
  now: number,
): void {
  const key = DECIDES[capabilityId];
  const target = key ? args[key] : undefined;
  if (typeof target === "string") store.buttons.retire(key === "code" ? target.trim().toUpperCase() : target, by, now);
}

/** The replies to a press whose capability finished with `result`; `principal` is the presser. */
export function pressReplies(
  target: ReplyTarget,
  result: { status: "reported" | "failed"; reason_code: string; text: string },
  prefix: string,
  principal?: string,
): ReplyIntent[] {
  if (result.status === "failed") return callbackReplies(target, { ok: false, notice: failureText(result.reason_code, "", prefix) });
  const [first = "", ...rest] = scrubInternals(result.text).split("\n");
  const body = rest.join("\n").trim();
  return callbackReplies(target, {
    ok: true,
    notice: first,
    prompt: {
      title: first,
      blocks: [
        ...(body ? [{ kind: "text" as const, text: body }] : []),
        ...(principal ? [{ kind: "fields" as const, fields: [{ label: "Decided by", value: principal }] }] : []),
      ],
    },
  });
}
