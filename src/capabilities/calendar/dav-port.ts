/**
 * @module What the calendar capabilities need from a CalDAV/CardDAV server, apart from the tsdav adapter that
 * implements it (`dav-client.ts`, loaded on first use). Failures are CalendarErrors with reason codes.
 */
import { createHash } from "node:crypto";

/** One account on one server. The password is read from the contract's secret at each connect and never logged. */
export interface DavConfig {
  url: string;
  user: string;
  password: string;
  timeoutMs: number;
}

/** A calendar or address book found by discovery. */
export interface DavCollection {
  url: string;
  displayName: string;
  /** The server offers RFC 6578 sync-collection on it. */
  supportsSync: boolean;
}

/** A stored calendar object or vCard: absolute URL, ETag (null when the server gave none) and text. */
export interface DavObject {
  href: string;
  etag: string | null;
  data: string;
}

export type DavChanges = { tokenValid: false } | { tokenValid: true; token: string | null; changed: string[]; removed: string[] };

export interface DavClient {
  /** RFC 6764 well-known, then the principal and its home set. */
  discover(kind: "caldav" | "carddav", serverUrl?: string): Promise<{ rootUrl: string; principalUrl: string; homeUrl: string }>;
  /** Calendars (VEVENT-capable) in the calendar home. */
  calendars(): Promise<DavCollection[]>;
  /** Address books in the address book home (of `serverUrl`, default the CalDAV URL). */
  addressBooks(serverUrl?: string): Promise<DavCollection[]>;
  /** The collection's ctag alone (cheap on most servers; null when it has none). */
  changeTag(url: string): Promise<string | null>;
  /** ctag and sync-token. */
  tags(url: string): Promise<{ ctag: string | null; syncToken: string | null }>;
  /** Every VEVENT object of a calendar. */
  allObjects(calendarUrl: string): Promise<DavObject[]>;
  /** The objects at these URLs (missing ones are left out). */
  objects(calendarUrl: string, hrefs: readonly string[]): Promise<DavObject[]>;
  /** What changed since a sync-token; `tokenValid: false` when the server no longer knows it. */
  changesSince(calendarUrl: string, token: string): Promise<DavChanges>;
  /** One object, or null when it is gone. */
  get(href: string): Promise<DavObject | null>;
  /** Create (`If-None-Match: *`): a 412 means an object already exists there (`calendar_conflict`). */
  create(calendarUrl: string, filename: string, data: string): Promise<{ href: string; etag: string | null }>;
  /** Replace (`If-Match: etag`): a 412 is `calendar_conflict`, and nothing was written. */
  update(href: string, data: string, etag: string): Promise<{ etag: string | null }>;
  /** Delete (`If-Match: etag`): a 412 is `calendar_conflict`, and nothing was deleted. */
  remove(href: string, etag: string): Promise<void>;
  /** vCards whose FN, EMAIL, TEL or ORG contains `query` (servers differ; callers filter again). */
  searchContacts(addressBookUrl: string, query: string): Promise<DavObject[]>;
}

/** Builds a client; the default loads tsdav on first use, so a tau that never touches calendars does not carry it. */
export type DavConnect = (cfg: DavConfig) => Promise<DavClient>;

export const connectDav: DavConnect = async (cfg) => (await import("./dav-client.ts")).createDavClient(cfg);

/** The file name of a UID's object: the UID itself when URL-safe, else a hash of it (same UID → same URL). */
export function fileNameFor(uid: string): string {
  if (/^[A-Za-z0-9._@-]{1,200}$/.test(uid)) return `${uid}.ics`;
  return `${createHash("sha256").update(uid).digest("hex").slice(0, 40)}.ics`;
}

/**
 * One spelling per URL: each path segment decoded and encoded again, so `freeze@vendor.ics` (as tau writes it) and
 * `freeze%40vendor.ics` (as a server lists it) are the same object in tau's copy.
 */
export function canonicalHref(href: string, base?: string): string {
  const u = new URL(href, base === undefined ? undefined : base.endsWith("/") ? base : `${base}/`);
  u.pathname = u.pathname
    .split("/")
    .map((seg) => {
      try {
        return encodeURIComponent(decodeURIComponent(seg));
      } catch {
        return seg;
      }
    })
    .join("/");
  return u.href;
}
