/** @module Kill switches: the table, the cached operational gate for the hot path, chat capabilities, health. */

// The table and changes (audited).
export { KILLSWITCH_SCOPES, KILLSWITCH_SCOPE_PATTERN, activeScopes, listKillSwitches, parseScope, setKillSwitch } from "./switches.ts";
export type { KillSwitchChange, KillSwitchRow, KillSwitchScope } from "./switches.ts";

// The hot path: kill switches + logged-out transports, read at most every 500 ms.
export {
  createOperationalGate,
  readOperationalSnapshot,
  type OperationalGate,
  type OperationalSnapshot,
  type OperationalState,
} from "./gate.ts";

// Chat capabilities, health and status.
export { KILLSWITCH_CAPABILITIES, describeKillSwitches } from "./capabilities.ts";
export { killSwitchStatusSection, lifecycleStatusSection } from "./status-sections.ts";
