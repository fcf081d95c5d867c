/**
 * Message components and allowed_mentions checks of the local Discord server, for every create, edit, interaction
 * webhook edit and follow-up (PROVIDERS.md §10.2): ≤ 5 action rows (type 1) of ≤ 5 buttons (type 2); a button has
 * a style 1–5, a label ≤ 80, and (styles 1–4) a custom_id of 1–100 characters unique in the message, (style 5) a url;
 * allowed_mentions.parse only lists "roles", "users", "everyone", and not together with the same explicit list.
 * Errors are Discord's form errors (50035 Invalid Form Body) with the field path.
 */
import { formError, type Json } from "./discord-server-store.ts";

const PARSE_TYPES = new Set(["roles", "users", "everyone"]);

/** Throws the 400 Discord answers when `body`'s components or allowed_mentions break the rules. */
export function checkComponentsAndMentions(body: Json): void {
  const am = body["allowed_mentions"] as Json | undefined | null;
  if (am !== undefined && am !== null) {
    const parse = am["parse"];
    if (parse !== undefined) {
      if (!Array.isArray(parse)) throw formError("allowed_mentions.parse", "BASE_TYPE_LIST", "Must be an array.");
      for (const [i, p] of parse.entries())
        if (!PARSE_TYPES.has(String(p)))
          throw formError(`allowed_mentions.parse.${i}`, "BASE_TYPE_CHOICES", `Value must be one of {'roles', 'users', 'everyone'}.`);
      for (const k of ["users", "roles"])
        if (parse.includes(k) && Array.isArray(am[k]))
          throw formError(
            "allowed_mentions",
            "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
            `parse:["${k}"] and ${k}: [ids] are mutually exclusive.`,
          );
    }
  }
  const rows = body["components"];
  if (rows === undefined || rows === null) return;
  if (!Array.isArray(rows)) throw formError("components", "BASE_TYPE_LIST", "Must be an array.");
  if (rows.length > 5) throw formError("components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.");
  const ids = new Set<string>();
  rows.forEach((row: Json, r) => {
    if (row?.["type"] !== 1)
      throw formError(`components.${r}.type`, "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Top-level components must be action rows.");
    const items = row["components"];
    if (!Array.isArray(items) || items.length === 0 || items.length > 5)
      throw formError(`components.${r}.components`, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.");
    items.forEach((b: Json, i) => {
      const at = `components.${r}.components.${i}`;
      if (b?.["type"] !== 2) return; // selects etc. are not checked here
      const style = Number(b["style"]);
      if (!(style >= 1 && style <= 6)) throw formError(`${at}.style`, "BASE_TYPE_CHOICES", "Value must be one of (1, 2, 3, 4, 5, 6).");
      const label = b["label"];
      if (label !== undefined && (typeof label !== "string" || label.length > 80))
        throw formError(`${at}.label`, "BASE_TYPE_MAX_LENGTH", "Must be 80 or fewer in length.");
      if (style === 5) {
        if (typeof b["url"] !== "string") throw formError(`${at}.url`, "BASE_TYPE_REQUIRED", "This field is required");
        return;
      }
      const id = b["custom_id"];
      if (typeof id !== "string" || id.length < 1 || id.length > 100)
        throw formError(`${at}.custom_id`, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.");
      if (ids.has(id)) throw formError(`${at}.custom_id`, "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated");
      ids.add(id);
    });
  });
}
