/**
 * @module `calendar.caldav.status` (`/tau calendar status`, viewer): a live probe of the configured account —
 * discovery (well-known → principal → calendar home), authentication, every calendar with its ctag and sync-token,
 * which one is the default, tau's copy of each, and how long the probe took. Never prints the password.
 */
import { z } from "zod";
import { defineCapability, failed, reported, type Capability } from "../capability.ts";
import { discoverCalendars, withCalendar, type CalendarRuntime } from "./calendar-context.ts";
import { formatInstant } from "./zoned-time.ts";

const Args = z.object({}).strict();
type Args = z.infer<typeof Args>;

export function createCalDavStatusCapability(rt: CalendarRuntime): Capability<Args> {
  return defineCapability({
    id: "calendar.caldav.status",
    alias: ["calendar", "status"],
    summary: "probe the CalDAV server: discovery, authentication, calendars with ctag and sync-token",
    args: Args,
    role: "viewer",
    sideEffect: "read",
    approval: "none",
    run: (_args, ctx) =>
      withCalendar(ctx, rt, "CalDAV status", async (s) => {
        const t0 = performance.now();
        const found = await s.client.discover("caldav");
        const rows = await discoverCalendars(s);
        const want = s.contract.caldav.calendar;
        const calendars = [];
        for (const r of rows) {
          const tags = await s.client.tags(r.url);
          const copy = s.store.objectCount(s.account, r.url);
          calendars.push({
            name: r.display_name,
            url: r.url,
            ctag: tags.ctag,
            sync_token: tags.syncToken,
            sync_collection: r.supports_sync === 1,
            default:
              r.display_name === want || decodeURIComponent(new URL(r.url).pathname.replace(/\/+$/, "").split("/").pop() ?? "") === want,
            copy: {
              objects: copy.n,
              unreadable: copy.invalid,
              synced_at: r.synced_at_ms === null ? null : new Date(r.synced_at_ms).toISOString(),
            },
          });
        }
        const probeMs = Math.round(performance.now() - t0);
        const data = {
          server: s.contract.caldav.url,
          user: s.contract.caldav.user,
          authenticated: true,
          principal_url: found.principalUrl,
          calendar_home_url: found.homeUrl,
          calendars,
          default_calendar: want,
          time_zone: s.contract.caldav.time_zone,
          probe_ms: probeMs,
          probed_at: formatInstant(ctx.now, s.contract.caldav.time_zone),
        };
        const lines = calendars.map(
          (c) =>
            `${c.default ? "* " : "  "}${c.name}  ${c.url}  ctag ${c.ctag ?? "-"}  sync-token ${c.sync_token ? "yes" : "no"}  tau's copy ${c.copy.objects} object(s)`,
        );
        const head = `CalDAV ${s.contract.caldav.url} as ${s.contract.caldav.user}: authenticated, principal ${found.principalUrl}, home ${found.homeUrl}, ${calendars.length} calendar(s), probe ${probeMs} ms.`;
        if (!calendars.some((c) => c.default))
          return failed("calendar_not_found", [head, ...lines, `✗ the default calendar "${want}" is not among them`].join("\n"), data);
        return reported("calendar_caldav_ok", [head, ...lines].join("\n"), data);
      }),
  });
}
