/** @module The connector contract lives in src/contracts/connector.ts (core and connectors share it); re-exported for connector folders. */
export * from "../../src/contracts/connector.ts";
