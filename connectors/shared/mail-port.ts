/** @module The mail port lives in src/contracts/mail-port.ts (core and connectors share it); re-exported for connector folders. */
export * from "../../src/contracts/mail-port.ts";
