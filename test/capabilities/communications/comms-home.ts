/**
 * @module Test fixture for the communications capabilities: a temp tau home with the checked-in contracts
 * (edited per test), an app on a settable clock, services with the comms registry, a CLI-style runner, and a
 * second raw connection to the state file for what the tests inspect or tamper with behind the Store's back.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { parse, stringify } from "yaml";
import { COMMS_SEND_CAPABILITIES, type CommsServices } from "../../../src/capabilities/communications/index.ts";
import type { CapabilityContext, CapabilityResult } from "../../../src/capabilities/capability.ts";
import type { AnyCapability } from "../../../src/capabilities/registry.ts";
import { createRegistry, createServices, openApp, type App } from "../../../src/app/index.ts";
import type { AuditRecord, CommsDeliveryRow } from "../../../src/store/index.ts";
import { makeTauHome, type TauHome } from "../../helpers/tau-home.ts";

const CONTRACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../policies/communications");

/** 2026-02-23T15:00:00Z: 10:00 in New York, 20:30 in Kolkata, 02:00 (next day) in Sydney. */
export const NOW = Date.parse("2026-02-23T15:00:00Z");

export type Contracts = Record<"stack" | "providers" | "policy" | "templates" | "delivery", Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface CommsHome {
  home: TauHome;
  app: App;
  services: CommsServices;
  commsDir: string;
  now: number;
  /** Rewrite the contracts: `edit` changes the parsed documents in place. */
  editContracts(edit: (c: Contracts) => void): void;
  cap(id: string): AnyCapability;
  /** Parse raw arguments with the capability's schema and run it as the local admin (no confirmation step). */
  run(id: string, raw?: Record<string, unknown>, principal?: string): Promise<CapabilityResult>;
  setSecret(id: string, value: string): void;
  /**
   * A second connection to `<state>/tau.db`, opened on first use: for reading tables as another process would
   * and for tampering on purpose (an edited row, a switch flipped by another `tau`). Never the app's own handle.
   */
  sql(): Database.Database;
  close(): void;
}

export interface CommsHomeOptions {
  /** Appended to tau.yaml. */
  tauYaml?: string;
  env?: Record<string, string>;
  edit?: (c: Contracts) => void;
  now?: number;
}

function readContracts(dir: string): Contracts {
  const one = (n: string) => parse(fs.readFileSync(path.join(dir, `${n}.yaml`), "utf8")) as Record<string, unknown>;
  return {
    stack: one("stack"),
    providers: one("providers"),
    policy: one("policy"),
    templates: one("templates"),
    delivery: one("delivery"),
  };
}

export function makeCommsHome(opts: CommsHomeOptions = {}): CommsHome {
  const home = makeTauHome(`runner:\n  coalesce_window_ms: 0\n${opts.tauYaml ?? ""}`);
  const commsDir = path.join(home.dir, "policies", "communications");
  fs.mkdirSync(commsDir);
  const write = (c: Contracts) => {
    for (const [name, doc] of Object.entries(c)) fs.writeFileSync(path.join(commsDir, `${name}.yaml`), stringify(doc));
  };
  const initial = readContracts(CONTRACTS);
  let raw: Database.Database | null = null;
  opts.edit?.(initial);
  write(initial);
  const h: CommsHome = {
    home,
    commsDir,
    now: opts.now ?? NOW,
    app: undefined as unknown as App,
    services: undefined as unknown as CommsServices,
    editContracts(edit) {
      const c = readContracts(commsDir);
      edit(c);
      write(c);
    },
    cap(id) {
      const c = h.services.registry.get(id);
      if (!c) throw new Error(`no capability ${id}`);
      return c;
    },
    async run(id, raw = {}, principal = "cli:tester") {
      const cap = h.cap(id);
      const args = cap.args.parse(raw) as Record<string, unknown>;
      const ctx: CapabilityContext = { principal, role: "admin", surface: "cli", now: h.now, services: h.services, origin: null };
      return cap.run(args, ctx);
    },
    setSecret(id, value) {
      h.app.store.secrets.put(id, value, h.now);
    },
    sql() {
      raw ??= new Database(path.join(home.stateDir, "tau.db"), { fileMustExist: true });
      return raw;
    },
    close() {
      raw?.close();
      h.app.close();
      home.cleanup();
    },
  };
  h.app = openApp({ stateDir: home.stateDir, configPath: home.configPath, env: opts.env ?? {}, clock: () => h.now });
  const registry = createRegistry().register(...COMMS_SEND_CAPABILITIES);
  h.services = { ...createServices(h.app, registry), policiesDir: h.app.loaded.policiesDir };
  return h;
}

/** Contract edits for live sends through the local servers. */
export function goLive(c: Contracts, roots: { resend?: string; twilio?: string }, phase: "pilot" | "live" = "live"): void {
  c.stack.mode = "live-pilot";
  if (roots.resend) Object.assign(c.providers.providers.resend, { mode: "live", cutover_phase: phase, api_root: roots.resend });
  if (roots.twilio) Object.assign(c.providers.providers.twilio, { mode: "live", cutover_phase: phase, api_root: roots.twilio });
}

/** Payment reminder variables for the `payment_needed` SMS template. */
export const PAYMENT_VARS = {
  customer_name: "Ana",
  order_number: "30020",
  balance_amount: "150.00",
  payment_link: "https://example.com/pay",
};
/** Shipping email variables for `order_shipped`. */
export const SHIPPED_VARS = { customer_name: "Ana", order_number: "30020", tracking_number: "1Z999AA10123456784" };

/** Every delivery row, oldest first, through the store. */
export function deliveryRows(h: CommsHome): CommsDeliveryRow[] {
  return h.app.store.comms.listDeliveries({ limit: 1_000_000 }).reverse();
}

/** `rows` with only the named columns, in that order. */
export function pick<T extends object, K extends keyof T>(rows: readonly T[], ...keys: K[]): Pick<T, K>[] {
  return rows.map((r) => Object.fromEntries(keys.map((k) => [k, r[k]])) as Pick<T, K>);
}

/** The audit records of `action` (a `%` suffix matches a prefix), in sequence order, through the store. */
export function auditRows(h: CommsHome, action: string): AuditRecord[] {
  const match = action.endsWith("%") ? (a: string) => a.startsWith(action.slice(0, -1)) : (a: string) => a === action;
  return h.app.store.audit.all().filter((r) => match(r.action));
}
