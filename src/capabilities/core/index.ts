/** @module The core chat commands: help, whoami, status, health, pairing, allowlist, approve, deny, forget. */
import type { AnyCapability } from "../registry.ts";
import { allowlistAddCapability, allowlistListCapability, allowlistRemoveCapability } from "./allowlist.ts";
import { approveCapability, denyCapability } from "./approvals.ts";
import { helpCapability } from "./help.ts";
import { pairingApproveCapability, pairingDenyCapability, pairingListCapability, pairingRevokeCapability } from "./pairing.ts";
import { healthCapability, statusCapability } from "./status.ts";
import { whoamiCapability } from "./whoami.ts";
import { forgetCapability } from "./forget.ts";

export const CORE_CAPABILITIES: AnyCapability[] = [
  helpCapability,
  whoamiCapability,
  statusCapability,
  healthCapability,
  pairingListCapability,
  pairingApproveCapability,
  pairingDenyCapability,
  pairingRevokeCapability,
  allowlistListCapability,
  allowlistAddCapability,
  allowlistRemoveCapability,
  approveCapability,
  denyCapability,
  forgetCapability,
];
