/** @module Every capability tau ships, in one registry (CLI and chat). */
import { CapabilityRegistry } from "../capabilities/registry.ts";
import { CORE_CAPABILITIES } from "../capabilities/core/index.ts";
import { KILLSWITCH_CAPABILITIES } from "../capabilities/killswitch/index.ts";
import { COMMS_SEND_CAPABILITIES } from "../capabilities/communications/index.ts";
import { MAIL_CAPABILITIES } from "../capabilities/mail/index.ts";
import { CALENDAR_CAPABILITIES } from "../capabilities/calendar/index.ts";

/** Every capability tau ships, in one registry (CLI and chat). */
export function createRegistry(): CapabilityRegistry {
  return new CapabilityRegistry().register(
    ...CORE_CAPABILITIES,
    ...KILLSWITCH_CAPABILITIES,
    ...COMMS_SEND_CAPABILITIES,
    ...MAIL_CAPABILITIES,
    ...CALENDAR_CAPABILITIES,
  );
}
