/**
 * @module `calendar.oncall` (`/tau oncall [--at T] [--calendar C]`, viewer): who is on call — the occurrence running
 * now of events whose summary matches the contract's `oncall.summary_pattern` (a `(?<who>…)` group names the person),
 * and the next shift within two weeks. Cancelled occurrences do not count.
 */
import { z } from "zod";
import { defineCapability, failed, reported, type Capability } from "../capability.ts";
import { text } from "./calendar-args.ts";
import { calendarLabel, resolveCalendar, withCalendar, type CalendarRuntime } from "./calendar-context.ts";
import { occurrenceData, occurrenceLine } from "./format-occurrences.ts";
import { refreshResolved } from "./mirror.ts";
import { readWindow, type StoredOccurrence } from "./read-window.ts";
import { parseWindow } from "./time-args.ts";

const Args = z.object({ at: text(40).optional(), calendar: text(200).optional() }).strict();
type Args = z.infer<typeof Args>;

/** How far ahead the next shift is looked for. */
const LOOKAHEAD_MS = 14 * 86_400_000;

/** The person a shift names: the pattern's `who` group, else the summary. */
export function whoOf(summary: string, pattern: RegExp): string {
  const m = summary.match(pattern);
  return (m?.groups?.who ?? summary).trim();
}

export function createOnCallCapability(rt: CalendarRuntime): Capability<Args> {
  return defineCapability({
    id: "calendar.oncall",
    alias: ["oncall"],
    summary: "who is on call now (events whose summary matches the on-call pattern) and the next shift",
    args: Args,
    positional: ["at"],
    role: "viewer",
    sideEffect: "read",
    approval: "none",
    run: (args, ctx) =>
      withCalendar(ctx, rt, "On call", async (s) => {
        const tz = s.contract.caldav.time_zone;
        const at = parseWindow(args.at ?? "now", undefined, ctx.now, tz);
        if (!at.ok) return failed("calendar_args_invalid", `On call: ${at.detail}.`);
        const t = at.value.fromMs;
        const pattern = new RegExp(s.contract.oncall.summary_pattern, "i");
        const first = await resolveCalendar(s, args.calendar);
        const { cal } = await refreshResolved(s, first, s.contract.caldav.max_staleness_seconds * 1000, () =>
          resolveCalendar(s, args.calendar, { rediscover: true }),
        );
        const shifts = readWindow(s, cal, t, t + LOOKAHEAD_MS).occurrences.filter(
          (o) => pattern.test(o.summary) && (o.status ?? "").toUpperCase() !== "CANCELLED",
        );
        const now = shifts.filter((o) => o.startMs <= t && (t < o.endMs || o.endMs === o.startMs));
        const next = shifts.find((o) => o.startMs > t) ?? null;
        const person = (o: StoredOccurrence) => ({ who: whoOf(o.summary, pattern), ...occurrenceData(o, tz) });
        const data = {
          calendar: calendarLabel(cal),
          at: new Date(t).toISOString(),
          on_call: now.map(person),
          next: next ? person(next) : null,
        };
        const nextLine = next ? `Next: ${whoOf(next.summary, pattern)} — ${occurrenceLine(next, tz)}` : "No shift in the next two weeks.";
        if (now.length === 0)
          return reported("calendar_oncall_nobody", `Nobody is on call in ${calendarLabel(cal)} right now.\n${nextLine}`, data);
        const lines = now.map((o) => `On call: ${whoOf(o.summary, pattern)} — ${occurrenceLine(o, tz)}`);
        return reported("calendar_oncall_found", [...lines, nextLine].join("\n"), data);
      }),
  });
}
