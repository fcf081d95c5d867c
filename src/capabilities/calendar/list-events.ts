/**
 * @module `calendar.events.list` (`/tau calendar [from] [to] [--calendar C]`, viewer): the occurrences in a window —
 * recurring events expanded in their own zone, shown in the contract's `time_zone` — from tau's copy of the calendar,
 * brought up to date first when it is older than `max_staleness_seconds`.
 */
import { z } from "zod";
import { defineCapability, failed, reported, type Capability } from "../capability.ts";
import { countArg, text } from "./calendar-args.ts";
import { calendarLabel, resolveCalendar, withCalendar, type CalendarRuntime } from "./calendar-context.ts";
import { occurrenceData, occurrenceLine } from "./format-occurrences.ts";
import { refreshResolved } from "./mirror.ts";
import { readWindow } from "./read-window.ts";
import { parseWindow } from "./time-args.ts";
import { formatInstant } from "./zoned-time.ts";

const Args = z
  .object({
    from: text(40).optional(),
    to: text(40).optional(),
    calendar: text(200).optional(),
    limit: countArg(1, 500, 50),
  })
  .strict();
type Args = z.infer<typeof Args>;

export function createListEventsCapability(rt: CalendarRuntime): Capability<Args> {
  return defineCapability({
    id: "calendar.events.list",
    alias: ["calendar"],
    summary: "events in a window (today, tomorrow, week, next-week or ISO dates), recurring ones expanded, in the team's time zone",
    args: Args,
    positional: ["from", "to"],
    role: "viewer",
    sideEffect: "read",
    approval: "none",
    run: (args, ctx) =>
      withCalendar(ctx, rt, "Calendar list", async (s) => {
        const tz = s.contract.caldav.time_zone;
        const win = parseWindow(args.from, args.to, ctx.now, tz);
        if (!win.ok) return failed("calendar_args_invalid", `Calendar list: ${win.detail}.`);
        const first = await resolveCalendar(s, args.calendar);
        const { cal, mirror } = await refreshResolved(s, first, s.contract.caldav.max_staleness_seconds * 1000, () =>
          resolveCalendar(s, args.calendar, { rediscover: true }),
        );
        const r = readWindow(s, cal, win.value.fromMs, win.value.toMs);
        const shown = r.occurrences.slice(0, args.limit);
        const name = calendarLabel(cal);
        const span = `${formatInstant(win.value.fromMs, tz).slice(0, 16).replace("T", " ")} – ${formatInstant(win.value.toMs, tz).slice(0, 16).replace("T", " ")} ${tz}`;
        const head = `${name}, ${span}: ${r.occurrences.length} event${r.occurrences.length === 1 ? "" : "s"}${r.occurrences.length > shown.length ? ` (first ${shown.length})` : ""}${shown.length ? ":" : "."}`;
        const notes = [
          ...(r.refused.length
            ? [`${r.refused.length} event(s) could not be read (calendar_ics_invalid): ${r.refused.map((x) => x.uid ?? x.href).join(", ")}`]
            : []),
          ...(r.truncated.length ? [`expansion stopped early for ${r.truncated.join(", ")} (too many occurrences)`] : []),
          ...(mirror.how === "fresh" ? [`as of ${formatInstant(mirror.checked_at_ms, tz).slice(11, 16)} (${mirror.reason})`] : []),
        ];
        const data = {
          calendar: { name, url: cal.url },
          window: {
            from: formatInstant(win.value.fromMs, tz),
            to: formatInstant(win.value.toMs, tz),
            time_zone: tz,
            label: win.value.label,
          },
          copy: mirror,
          total: r.occurrences.length,
          occurrences: shown.map((o) => occurrenceData(o, tz)),
          refused: r.refused,
          truncated: r.truncated,
        };
        return reported("calendar_events_listed", [head, ...shown.map((o) => occurrenceLine(o, tz)), ...notes].join("\n"), data);
      }),
  });
}
