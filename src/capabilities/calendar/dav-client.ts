/**
 * @module The tsdav adapter (the only file that imports it): CalDAV and CardDAV over HTTP with Basic auth. Discovery
 * (RFC 6764 well-known → principal → home set), collections with their ctag / sync-token, objects (calendar-query,
 * multiget, sync-collection), conditional writes (`If-None-Match: *` on create, `If-Match` on update and delete), and
 * addressbook-query. Every request carries the password in its header only and is bounded by `timeoutMs`; every
 * failure leaves here as a CalendarError with its reason code.
 * @see https://www.rfc-editor.org/rfc/rfc4791 (CalDAV), https://www.rfc-editor.org/rfc/rfc6352 (CardDAV),
 * https://www.rfc-editor.org/rfc/rfc6578 (sync-collection), https://www.rfc-editor.org/rfc/rfc6764 (discovery)
 */
import {
  addressBookQuery,
  calendarMultiGet,
  calendarQuery,
  createAccount,
  createCalendarObject,
  deleteCalendarObject,
  fetchAddressBooks,
  fetchCalendars,
  propfind,
  syncCollection,
  updateCalendarObject,
  type DAVAccount,
  type DAVResponse,
} from "tsdav";
import { CalendarError } from "./calendar-error.ts";
import { canonicalHref, type DavClient, type DavCollection, type DavConfig, type DavObject } from "./dav-port.ts";

type Fetch = typeof globalThis.fetch;

/** `fetch` with Basic auth, the timeout, and transport failures turned into reason codes. */
function authedFetch(cfg: DavConfig): Fetch {
  const authorization = `Basic ${Buffer.from(`${cfg.user}:${cfg.password}`).toString("base64")}`;
  return async (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set("authorization", authorization);
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const method = init.method ?? "GET";
    let res: Response;
    try {
      res = await fetch(input, { ...init, headers, signal: AbortSignal.timeout(cfg.timeoutMs) });
    } catch (err) {
      throw transportError(err, method, url, cfg.timeoutMs);
    }
    if (res.status === 401)
      throw new CalendarError("calendar_auth_failed", `${method} ${url}: the server refused user ${cfg.user} (HTTP 401)`, {
        httpStatus: 401,
        hint: "check caldav.user and the password secret",
      });
    if (res.status === 502 || res.status === 503 || res.status === 504)
      throw new CalendarError("calendar_server_unavailable", `${method} ${url}: HTTP ${res.status}`, { httpStatus: res.status });
    return res;
  };
}

function transportError(err: unknown, method: string, url: string, timeoutMs: number): CalendarError {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string; name?: string } };
  if (e.name === "TimeoutError" || e.cause?.name === "TimeoutError")
    return new CalendarError("calendar_timeout", `${method} ${url}: no answer within ${timeoutMs} ms`, { cause: err });
  const code = e.cause?.code ?? e.name ?? "error";
  return new CalendarError(
    "calendar_server_unavailable",
    `${method} ${url}: ${code} (${e.cause?.message ?? e.message ?? "fetch failed"})`,
    {
      cause: err,
      details: { code },
    },
  );
}

/** A failed response (outside the 401/5xx the fetch wrapper already turned into errors) as a CalendarError. */
function httpError(status: number, what: string): CalendarError {
  if (status === 404 || status === 409) return new CalendarError("calendar_not_found", `${what}: HTTP ${status}`, { httpStatus: status });
  if (status === 403)
    return new CalendarError("calendar_forbidden", `${what}: the account may not do this (HTTP 403)`, { httpStatus: 403 });
  if (status === 412)
    return new CalendarError("calendar_conflict", `${what}: the object changed on the server (HTTP 412)`, { httpStatus: 412 });
  if (status === 400 || status === 415 || status === 422)
    return new CalendarError("calendar_ics_invalid", `${what}: the server refused the data (HTTP ${status})`, { httpStatus: status });
  return new CalendarError("calendar_server_error", `${what}: HTTP ${status}`, { httpStatus: status });
}

/** tsdav throws plain Errors with the status in the text ("Collection query failed: 404 Not Found"); ours pass through. */
async function wrap<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CalendarError) throw err;
    const status = String((err as Error)?.message ?? "").match(/\b([1-5]\d\d)\b/);
    if (status) throw httpError(Number(status[1]), what);
    if (/principal|home ?url|homeUrl/i.test(String((err as Error)?.message)))
      throw new CalendarError("calendar_not_found", `${what}: ${(err as Error).message} (is the URL a CalDAV server?)`, { cause: err });
    throw new CalendarError("calendar_server_error", `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
}

const absolute = (href: string | undefined, base: string) => canonicalHref(href ?? "", base);
const str = (v: unknown): string | null => (v === undefined || v === null || v === "" ? null : typeof v === "object" ? null : String(v));
const textOf = (v: unknown): string => {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && "_cdata" in v) return String((v as { _cdata: unknown })._cdata);
  if (v && typeof v === "object" && "_text" in v) return String((v as { _text: unknown })._text);
  return v === undefined || v === null ? "" : String(v);
};
const pathOf = (href: string) => {
  const u = new URL(href);
  return `${u.pathname}${u.search}`;
};

function objectsFrom(responses: DAVResponse[], base: string, dataProp: "calendarData" | "addressData"): DavObject[] {
  return responses
    .filter((r) => r.href && r.ok && r.props?.[dataProp] !== undefined)
    .map((r) => ({ href: absolute(r.href, base), etag: str(r.props?.getetag), data: textOf(r.props?.[dataProp]) }));
}

const VEVENT_FILTER = { "comp-filter": { _attributes: { name: "VCALENDAR" }, "comp-filter": { _attributes: { name: "VEVENT" } } } };
const MULTIGET_BATCH = 200;

/** A CalDAV/CardDAV client over tsdav for one account. */
export function createDavClient(cfg: DavConfig): DavClient {
  const f = authedFetch(cfg);
  const accounts = new Map<string, DAVAccount>();
  const accountFor = (kind: "caldav" | "carddav", serverUrl: string) =>
    wrap(`discover ${kind} at ${serverUrl}`, async () => {
      const key = `${kind} ${serverUrl}`;
      const hit = accounts.get(key);
      if (hit) return hit;
      const a = await createAccount({ account: { accountType: kind, serverUrl }, fetch: f });
      accounts.set(key, a);
      return a;
    });

  const version = (url: string, props: Record<string, object>) =>
    wrap(`PROPFIND ${url}`, async () => {
      const [r] = await propfind({ url, props, depth: "0", fetch: f });
      if (!r || (!r.ok && r.status >= 400)) throw httpError(r?.status ?? 500, `PROPFIND ${url}`);
      return { ctag: str(r.props?.getctag), syncToken: str(r.props?.syncToken) };
    });

  return {
    async discover(kind, serverUrl = cfg.url) {
      const a = await accountFor(kind, serverUrl);
      return { rootUrl: a.rootUrl ?? serverUrl, principalUrl: a.principalUrl ?? "", homeUrl: a.homeUrl ?? "" };
    },

    async calendars(): Promise<DavCollection[]> {
      const account = await accountFor("caldav", cfg.url);
      const cals = await wrap(`list calendars of ${account.homeUrl}`, () =>
        fetchCalendars({
          account,
          props: { "d:displayname": {}, "d:resourcetype": {}, "c:supported-calendar-component-set": {} },
          fetch: f,
        }),
      );
      return cals
        .filter((c) => !c.components?.length || c.components.includes("VEVENT"))
        .map((c) => ({
          url: canonicalHref(c.url),
          displayName: textOf(c.displayName),
          supportsSync: Array.isArray(c.reports) && c.reports.includes("syncCollection"),
        }));
    },

    async addressBooks(serverUrl = cfg.url): Promise<DavCollection[]> {
      const account = await accountFor("carddav", serverUrl);
      const books = await wrap(`list address books of ${account.homeUrl}`, () =>
        fetchAddressBooks({ account, props: { "d:displayname": {}, "d:resourcetype": {} }, fetch: f }),
      );
      return books.map((b) => ({
        url: canonicalHref(b.url),
        displayName: textOf(b.displayName),
        supportsSync: Array.isArray(b.reports) && b.reports.includes("syncCollection"),
      }));
    },

    changeTag: async (url) => (await version(url, { "cs:getctag": {} })).ctag,
    tags: (url) => version(url, { "cs:getctag": {}, "d:sync-token": {} }),

    allObjects: (calendarUrl) =>
      wrap(`REPORT calendar-query ${calendarUrl}`, async () => {
        const rs = await calendarQuery({
          url: calendarUrl,
          props: { "d:getetag": {}, "c:calendar-data": {} },
          filters: VEVENT_FILTER,
          depth: "1",
          fetch: f,
        });
        return objectsFrom(rs, calendarUrl, "calendarData");
      }),

    objects: (calendarUrl, hrefs) =>
      wrap(`REPORT calendar-multiget ${calendarUrl}`, async () => {
        const out: DavObject[] = [];
        for (let i = 0; i < hrefs.length; i += MULTIGET_BATCH) {
          const rs = await calendarMultiGet({
            url: calendarUrl,
            props: { "d:getetag": {}, "c:calendar-data": {} },
            objectUrls: hrefs.slice(i, i + MULTIGET_BATCH).map(pathOf),
            depth: "1",
            fetch: f,
          });
          out.push(...objectsFrom(rs, calendarUrl, "calendarData"));
        }
        return out;
      }),

    changesSince: (calendarUrl, token) =>
      wrap(`REPORT sync-collection ${calendarUrl}`, async () => {
        const rs = await syncCollection({ url: calendarUrl, props: { "d:getetag": {} }, syncLevel: 1, syncToken: token, fetch: f });
        const first = rs[0];
        // RFC 6578 §3.2: an expired or unknown token is a 403/409 with DAV:valid-sync-token (servers vary).
        if (first && !first.href?.endsWith(".ics") && first.status >= 400) {
          if ([400, 403, 409, 412].includes(first.status)) return { tokenValid: false as const };
          throw httpError(first.status, `REPORT sync-collection ${calendarUrl}`);
        }
        const objects = rs.filter((r) => typeof r.href === "string" && absolute(r.href, calendarUrl) !== absolute("", calendarUrl));
        const newToken = str(first?.raw?.multistatus?.syncToken);
        return {
          tokenValid: true as const,
          token: newToken,
          changed: objects.filter((r) => r.status !== 404).map((r) => absolute(r.href, calendarUrl)),
          removed: objects.filter((r) => r.status === 404).map((r) => absolute(r.href, calendarUrl)),
        };
      }),

    async get(href) {
      const res = await f(href, { method: "GET" });
      if (res.status === 404 || res.status === 410) return null;
      if (!res.ok) throw httpError(res.status, `GET ${href}`);
      return { href, etag: res.headers.get("etag"), data: await res.text() };
    },

    async create(calendarUrl, filename, data) {
      const res = await wrap(`PUT ${filename}`, () =>
        createCalendarObject({ calendar: { url: calendarUrl }, filename, iCalString: data, fetch: f }),
      );
      const href = absolute(filename, calendarUrl);
      if (!res.ok) throw httpError(res.status, `PUT ${href} (If-None-Match: *)`);
      return { href, etag: res.headers.get("etag") };
    },

    async update(href, data, etag) {
      const res = await wrap(`PUT ${href}`, () => updateCalendarObject({ calendarObject: { url: href, data, etag }, fetch: f }));
      if (!res.ok) throw httpError(res.status, `PUT ${href} (If-Match: ${etag})`);
      return { etag: res.headers.get("etag") };
    },

    async remove(href, etag) {
      const res = await wrap(`DELETE ${href}`, () => deleteCalendarObject({ calendarObject: { url: href, etag }, fetch: f }));
      if (!res.ok) throw httpError(res.status, `DELETE ${href} (If-Match: ${etag})`);
    },

    searchContacts: (addressBookUrl, query) =>
      wrap(`REPORT addressbook-query ${addressBookUrl}`, async () => {
        const match = (name: string) => ({
          _attributes: { name },
          "text-match": { _attributes: { collation: "i;unicode-casemap", "match-type": "contains" }, _text: query },
        });
        const rs = await addressBookQuery({
          url: addressBookUrl,
          props: { "d:getetag": {}, "card:address-data": {} },
          filters: query === "" ? undefined : { _attributes: { test: "anyof" }, "prop-filter": ["FN", "EMAIL", "TEL", "ORG"].map(match) },
          depth: "1",
          fetch: f,
        });
        return objectsFrom(rs, addressBookUrl, "addressData");
      }),
  };
}
