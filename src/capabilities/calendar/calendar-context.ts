/**
 * @module What every calendar capability shares: the contract (absent → `calendar_not_configured`, invalid →
 * `calendar_contract_invalid` with file and line), the password from its secret, a client for the account, the
 * calendar named by the contract or the caller (discovered once, then remembered), and every CalendarError turned
 * into a failed result with its reason code. How the server answered is recorded for health.
 */
import path from "node:path";
import { describeError, TauError } from "../../contracts/errors.ts";
import { failed, type CapabilityContext, type CapabilityResult } from "../capability.ts";
import type { Services } from "../services.ts";
import type { CalendarCollectionRow, CalendarStore } from "../../store/index.ts";
import { CalendarError, SERVER_DOWN_CODES } from "./calendar-error.ts";
import { loadCalendarContract, type CalendarContract } from "./contract.ts";
import { loadCodec, type Codec } from "./codec.ts";
import { connectDav, type DavClient, type DavConnect } from "./dav-port.ts";

/** The adapters the calendar capabilities use, injected so the composition (and benches) pick them. */
export interface CalendarRuntime {
  connect: DavConnect;
  /** Reads an https/http ICS source (sync); the default uses `fetch`. */
  fetchSource: (url: string, opts: { timeoutMs: number; maxBytes: number }) => Promise<{ status: number; body: string }>;
}

/** The communications folder under the policies folder. */
export function calendarCommsDir(s: Services): string {
  return path.join(s.policiesDir, "communications");
}

/** One capability run against the configured account. */
export interface CalendarSession {
  contract: CalendarContract;
  /** `<server url>|<user>`: the key of everything tau keeps for this account. */
  account: string;
  client: DavClient;
  /** The ical.js adapter (loaded on first use). */
  codec: Codec;
  store: CalendarStore;
  services: Services;
  ctx: CapabilityContext;
}

/** A calendar resolved to its collection row. */
export type ResolvedCalendar = CalendarCollectionRow;

/** Load the contract, or say why not as a failed result. */
export function contractFor(s: Services): { ok: true; contract: CalendarContract } | { ok: false; result: CapabilityResult } {
  try {
    const contract = loadCalendarContract(calendarCommsDir(s));
    if (contract) return { ok: true, contract };
    return {
      ok: false,
      result: failed(
        "calendar_not_configured",
        "Calendars are not set up: write policies/communications/calendar.yaml (caldav url, user, password_secret, calendar, time_zone).",
      ),
    };
  } catch (err) {
    return {
      ok: false,
      result: failed("calendar_contract_invalid", `Calendar contract is invalid: ${describeError(err)}`, {
        error: err instanceof TauError ? err.toJSON() : String(err),
      }),
    };
  }
}

export const accountKey = (c: CalendarContract): string => `${new URL(c.caldav.url).href}|${c.caldav.user}`;

/** A client whose calls record the server's last answer (ok, or why not) for health. */
function recording(client: DavClient, store: CalendarStore, account: string, clock: () => number): DavClient {
  const out = {} as Record<string, unknown>;
  for (const [name, fn] of Object.entries(client) as [string, (...a: unknown[]) => Promise<unknown>][]) {
    out[name] = async (...a: unknown[]) => {
      try {
        const r = await fn(...a);
        store.recordServerFact({ account, ok: 1, reason: "calendar_server_ok", detail: name, at_ms: clock() });
        return r;
      } catch (err) {
        if (err instanceof CalendarError && SERVER_DOWN_CODES.has(err.reason))
          store.recordServerFact({ account, ok: 0, reason: err.reason, detail: err.message, at_ms: clock() });
        throw err;
      }
    };
  }
  return out as unknown as DavClient;
}

/** A failed result for a thrown error: CalendarErrors keep their reason code. */
export function failedFrom(err: unknown, what: string): CapabilityResult {
  if (err instanceof CalendarError)
    return failed(err.reason, `${what}: ${err.reason} (${err.message})${err.hint ? `; fix: ${err.hint}` : ""}`, {
      reason_code: err.reason,
      error: err.toJSON(),
    });
  throw err;
}

/** Run `fn` with a session on the configured account; any CalendarError becomes a failed result. */
export async function withCalendar(
  ctx: CapabilityContext,
  rt: CalendarRuntime,
  what: string,
  fn: (s: CalendarSession) => Promise<CapabilityResult>,
): Promise<CapabilityResult> {
  const loaded = contractFor(ctx.services);
  if (!loaded.ok) return loaded.result;
  const contract = loaded.contract;
  const password = ctx.services.secret(contract.caldav.password_secret);
  if (!password)
    return failed(
      "calendar_credentials_missing",
      `${what}: the secret ${contract.caldav.password_secret} is missing; set it with \`echo … | tau secrets set ${contract.caldav.password_secret}\`.`,
    );
  const account = accountKey(contract);
  const store = ctx.services.store.calendar;
  try {
    const client = await rt.connect({
      url: contract.caldav.url,
      user: contract.caldav.user,
      password,
      timeoutMs: contract.caldav.timeout_ms,
    });
    const codec = await loadCodec();
    return await fn({
      codec,
      contract,
      account,
      client: recording(client, store, account, ctx.services.clock),
      store,
      services: ctx.services,
      ctx,
    });
  } catch (err) {
    return failedFrom(err, what);
  }
}

const segmentOf = (url: string) => decodeURIComponent(new URL(url).pathname.replace(/\/+$/, "").split("/").pop() ?? "");

function match(rows: CalendarCollectionRow[], name: string): CalendarCollectionRow | undefined {
  const lower = name.toLowerCase();
  return (
    rows.find((r) => r.display_name === name) ??
    rows.find((r) => segmentOf(r.url) === name) ??
    rows.find((r) => r.display_name.toLowerCase() === lower || segmentOf(r.url).toLowerCase() === lower)
  );
}

/** Discover the account's calendars now and remember them. */
export async function discoverCalendars(s: CalendarSession): Promise<CalendarCollectionRow[]> {
  const found = await s.client.calendars();
  s.services.store.atomically(() =>
    s.store.replaceCollections(
      s.account,
      "calendar",
      found.map((c) => ({ url: c.url, display_name: c.displayName || segmentOf(c.url), supports_sync: c.supportsSync })),
      s.ctx.now,
    ),
  );
  return s.store.collections(s.account, "calendar");
}

/**
 * The calendar named `name` (display name or last path segment; default the contract's) from what discovery found
 * before, discovering again when it is not known.
 */
export async function resolveCalendar(
  s: CalendarSession,
  name: string | undefined,
  opts: { rediscover?: boolean } = {},
): Promise<ResolvedCalendar> {
  const want = name ?? s.contract.caldav.calendar;
  const known = opts.rediscover ? undefined : match(s.store.collections(s.account, "calendar"), want);
  if (known) return known;
  const rows = await discoverCalendars(s);
  const hit = match(rows, want);
  if (hit) return hit;
  throw new CalendarError(
    "calendar_not_found",
    `no calendar named "${want}" for ${s.contract.caldav.user}${rows.length ? ` (found: ${rows.map((r) => r.display_name).join(", ")})` : " (the account has no calendars)"}`,
  );
}

/** Plain-language name of a calendar for answers. */
export const calendarLabel = (c: ResolvedCalendar): string => c.display_name || segmentOf(c.url);

/** The default ICS source reader: `fetch` with a timeout and a size bound. */
export const defaultFetchSource: CalendarRuntime["fetchSource"] = async (url, opts) => {
  const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs), redirect: "follow" });
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > opts.maxBytes) {
    await res.body?.cancel();
    throw new CalendarError("calendar_source_unreadable", `${url}: ${declared} bytes is over the limit of ${opts.maxBytes}`);
  }
  const reader = res.body?.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (reader) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > opts.maxBytes) {
      await reader.cancel();
      throw new CalendarError("calendar_source_unreadable", `${url}: more than ${opts.maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return { status: res.status, body: Buffer.concat(chunks).toString("utf8") };
};

export const DEFAULT_CALENDAR_RUNTIME: CalendarRuntime = { connect: connectDav, fetchSource: defaultFetchSource };
