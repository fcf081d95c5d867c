/**
 * @module What a chat user reads instead of a reason code: one sentence and a next step per code a user can see
 * (a failed command, a refused approval or pairing, a refused button press). The codes themselves stay in traces,
 * the audit log and the `debug` footer. `{prefix}` stands for the command prefix (default `/tau`).
 */

/** A sentence and what to do next; `detail`: the capability's own text is shown too (scrubbed of server paths). */
export interface ReasonSentence {
  sentence: string;
  next: string;
  detail?: boolean;
}

/** Every user-visible failure code. `test/commands/reason-sentences.test.ts` checks none is missing. */
export const REASON_SENTENCES: Readonly<Record<string, ReasonSentence>> = {
  // The command surface.
  command_parse_error: { sentence: "I could not read that command.", next: "Check the quotes, or try {prefix} help.", detail: true },
  command_unknown: { sentence: "I don't know that command.", next: "Try {prefix} help for the commands you may run." },
  command_rbac_denied: {
    sentence: "Your role does not allow this command.",
    next: "Ask an admin to run it, or to give you the role.",
    detail: true,
  },
  command_args_invalid: {
    sentence: "Some arguments are missing or wrong.",
    next: "Try {prefix} help to see what the command takes.",
    detail: true,
  },
  command_execution_failed: {
    sentence: "The command failed while running.",
    next: "Try again later; if it keeps failing, tell an operator.",
  },
  command_interrupted: {
    sentence: "This command was interrupted by a restart before it finished.",
    next: "Check whether it took effect before you run it again.",
  },
  command_chat_only: { sentence: "This command only works in a chat.", next: "Run it from the conversation it is about." },
  // Approvals.
  approval_unknown: { sentence: "There is no such approval request.", next: "Check the id with the request's message, or ask again." },
  approval_replayed: { sentence: "This request was already decided.", next: "Nothing more to do; ask again if it is still needed." },
  approval_expired: { sentence: "This request expired before anyone decided.", next: "Run the command again to ask for a new approval." },
  approval_args_mismatch: {
    sentence: "The request changed since the approval was asked for.",
    next: "Approve the new request's message instead.",
  },
  approval_rbac_denied: { sentence: "Your role may not decide this request.", next: "Ask an operator or admin to decide it." },
  approval_same_principal: {
    sentence: "You asked for this, and it needs a second person to approve it.",
    next: "Ask another operator to press Approve (or run the approve command).",
  },
  // Buttons.
  button_unknown: { sentence: "This button is not valid here.", next: "Use the buttons on a current request, or the typed command." },
  button_already_used: { sentence: "This was already decided.", next: "Nothing more to do." },
  button_expired: { sentence: "This button expired.", next: "Ask again to get a fresh request." },
  // Pairing and the allowlist.
  pairing_code_malformed: { sentence: "That is not a pairing code.", next: "Copy the code exactly from the user's message." },
  pairing_code_unknown: { sentence: "No pending pairing request has that code.", next: "Check the code with {prefix} pairing list." },
  pairing_code_already_used: { sentence: "That pairing code was already used.", next: "Nothing more to do; see {prefix} pairing list." },
  pairing_code_expired: {
    sentence: "That pairing code expired.",
    next: "Ask the user to message the bot again for a new code.",
  },
  pairing_not_found: { sentence: "That person is not paired.", next: "Check the actor with {prefix} pairing list." },
  allowlist_absent: { sentence: "That person was not on the allowlist.", next: "Nothing to remove." },
  // Communications, mail, calendar and incidents.
  comms_disabled: { sentence: "Email and SMS are turned off on this tau.", next: "Ask an operator to turn communications on." },
  comms_contract_invalid: {
    sentence: "The communications settings on the server have an error.",
    next: "Ask an operator to run `tau policy check` and fix it.",
  },
  stack_contract_invalid: {
    sentence: "The mail settings on the server have an error.",
    next: "Ask an operator to run `tau policy check` and fix it.",
  },
  calendar_contract_invalid: {
    sentence: "The calendar settings on the server have an error.",
    next: "Ask an operator to run `tau policy check` and fix it.",
  },
  contacts_not_configured: { sentence: "Contacts are not set up on this tau.", next: "Ask an operator to configure contacts." },
  calendar_args_invalid: {
    sentence: "The calendar request is not valid.",
    next: "Check the dates and names, then try again.",
    detail: true,
  },
  calendar_not_found: { sentence: "I could not find that calendar entry.", next: "List the calendar to find the right one.", detail: true },
  calendar_ics_invalid: { sentence: "That calendar file could not be read.", next: "Check the file or the link, then try again." },
  recipient_invalid_timezone: {
    sentence: "The recipient's time zone is not valid.",
    next: "Ask an operator to fix the recipient's settings.",
  },
  template_vars_invalid: {
    sentence: "The template's variables are wrong or missing.",
    next: "Check the variables the template needs.",
    detail: true,
  },
  doctor_failed: {
    sentence: "The check found problems.",
    next: "Ask an operator to run the same check with `tau` on the server.",
    detail: true,
  },
  calendar_not_configured: { sentence: "The calendar is not set up on this tau.", next: "Ask an operator to configure it." },
  calendar_credentials_missing: {
    sentence: "The calendar's credentials are missing on the server.",
    next: "Ask an operator to set the calendar secret.",
  },
  calendar_conflict: {
    sentence: "The calendar entry changed on the server while you edited it.",
    next: "List it again and repeat your change.",
    detail: true,
  },
  alert_cooldown_active: {
    sentence: "That alert was sent a moment ago and is cooling down.",
    next: "Wait a few minutes before sending it again.",
  },
  consent_message_type_unknown: {
    sentence: "That message type is not known.",
    next: "Check the message types with {prefix} templates list.",
    detail: true,
  },
  incident_not_verified: { sentence: "The incident has not been verified yet.", next: "Verify the fix, then close the incident." },
  incident_unknown: { sentence: "There is no such incident.", next: "List the open incidents to find its id." },
  incident_closed: { sentence: "That incident is already closed.", next: "Open a new incident if the problem is back." },
  incident_follow_up_missing: { sentence: "Closing the incident needs a follow-up.", next: "Add the follow-up, then close it." },
};

/** Used for a failure code with no sentence of its own. */
export const GENERIC_FAILURE: ReasonSentence = {
  sentence: "That did not work.",
  next: "Try again later; if it keeps failing, tell an operator.",
  detail: true,
};

/** The sentence for `code` (the generic one when there is none). */
export function sentenceFor(code: string): ReasonSentence {
  return REASON_SENTENCES[code] ?? GENERIC_FAILURE;
}

/** A server path (`/home/x/policies/y.yaml`, `C:\x\y`) in text meant for chat becomes its file name. */
export function scrubInternals(text: string): string {
  return text
    .replace(/(?<![\w:/.~-])(?:~|\.{1,2})?(?:\/[^\s/:'"`()<>]+){2,}/g, (p) => p.slice(p.lastIndexOf("/") + 1))
    .replace(/\b[A-Za-z]:\\(?:[^\s\\:'"`()<>]+\\)+([^\s\\:'"`()<>]+)/g, "$1");
}

/** The words a chat user reads for a failure: the sentence, the capability's detail where it helps, the next step. */
export function failureText(code: string, detail: string, prefix: string): string {
  const s = sentenceFor(code);
  const extra = s.detail && detail.trim() !== "" ? `\n${scrubInternals(detail.trim())}` : "";
  return `${s.sentence}${extra}\nNext: ${s.next.replace(/\{prefix\}/g, prefix)}`;
}
