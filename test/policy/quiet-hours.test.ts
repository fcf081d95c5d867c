/** @module Tests for quiet hours: recipient time zones, DST transitions and windows crossing midnight. */
import { describe, expect, it } from "vitest";
import { decideQuietHours, inQuietWindow, isValidTimeZone, localClock } from "../../src/policy/quiet-hours.ts";

const NIGHT = { start: "21:00", end: "08:00" };
const at = (iso: string) => Date.parse(iso);
const reasonAt = (timeZone: string, iso: string, rule = NIGHT) => decideQuietHours({ rule, timeZone, now: at(iso) }).reason;

describe("decideQuietHours in America/New_York", () => {
  it("follows the spring-forward jump: 12:30Z is 08:30 EDT on the transition day (clear), 07:30 EST the day before (active)", () => {
    expect(reasonAt("America/New_York", "2025-03-09T12:30:00Z")).toBe("quiet_hours_clear");
    expect(reasonAt("America/New_York", "2025-03-08T12:30:00Z")).toBe("quiet_hours_active");
  });

  it("reads local time across the skipped hour (01:59 EST then 03:00 EDT)", () => {
    expect(localClock("America/New_York", at("2025-03-09T06:59:00Z")).time).toBe("01:59");
    expect(localClock("America/New_York", at("2025-03-09T07:00:00Z")).time).toBe("03:00");
    expect(reasonAt("America/New_York", "2025-03-09T07:00:00Z")).toBe("quiet_hours_active");
  });

  it("starts at 21:00 local inclusive", () => {
    expect(reasonAt("America/New_York", "2025-03-09T01:59:00Z")).toBe("quiet_hours_clear");
    expect(reasonAt("America/New_York", "2025-03-09T02:00:00Z")).toBe("quiet_hours_active");
  });

  it("treats both 01:30s of the fall-back day as night", () => {
    expect(localClock("America/New_York", at("2025-11-02T05:30:00Z")).time).toBe("01:30");
    expect(localClock("America/New_York", at("2025-11-02T06:30:00Z")).time).toBe("01:30");
    expect(reasonAt("America/New_York", "2025-11-02T05:30:00Z")).toBe("quiet_hours_active");
    expect(reasonAt("America/New_York", "2025-11-02T06:30:00Z")).toBe("quiet_hours_active");
  });

  it("reports the local time and window in the decision", () => {
    expect(decideQuietHours({ rule: NIGHT, timeZone: "America/New_York", now: at("2025-03-08T12:30:00Z") })).toEqual({
      stage: "quiet_hours",
      outcome: "deny",
      reason: "quiet_hours_active",
      detail: { timezone: "America/New_York", local_date: "2025-03-08", local_time: "07:30", start: "21:00", end: "08:00" },
    });
  });
});

describe("decideQuietHours in Australia/Sydney (southern hemisphere DST)", () => {
  it("the same UTC time is 08:30 AEDT in January (clear) and 07:30 AEST in July (active)", () => {
    expect(reasonAt("Australia/Sydney", "2025-01-15T21:30:00Z")).toBe("quiet_hours_clear");
    expect(reasonAt("Australia/Sydney", "2025-07-15T21:30:00Z")).toBe("quiet_hours_active");
  });

  it("is active at local midnight (the window crosses midnight)", () => {
    expect(localClock("Australia/Sydney", at("2025-01-15T13:00:00Z"))).toEqual({ date: "2025-01-16", time: "00:00", minuteOfDay: 0 });
    expect(reasonAt("Australia/Sydney", "2025-01-15T13:00:00Z")).toBe("quiet_hours_active");
  });

  it("handles the April fall-back and October spring-forward nights", () => {
    expect(localClock("Australia/Sydney", at("2025-04-05T16:30:00Z")).time).toBe("02:30");
    expect(localClock("Australia/Sydney", at("2025-10-04T16:30:00Z")).time).toBe("03:30");
    expect(reasonAt("Australia/Sydney", "2025-10-04T16:30:00Z")).toBe("quiet_hours_active");
  });
});

describe("decideQuietHours in Asia/Kolkata (UTC+05:30, no DST)", () => {
  it("uses the half-hour offset at both edges: start inclusive, end exclusive", () => {
    expect(reasonAt("Asia/Kolkata", "2025-06-01T15:29:00Z")).toBe("quiet_hours_clear");
    expect(reasonAt("Asia/Kolkata", "2025-06-01T15:30:00Z")).toBe("quiet_hours_active");
    expect(reasonAt("Asia/Kolkata", "2025-06-02T02:29:00Z")).toBe("quiet_hours_active");
    expect(reasonAt("Asia/Kolkata", "2025-06-02T02:30:00Z")).toBe("quiet_hours_clear");
  });
});

describe("windows and zones", () => {
  it("a same-day window (13:00–14:00) is active only inside it", () => {
    const lunch = { start: "13:00", end: "14:00" };
    expect(inQuietWindow(lunch, 12 * 60 + 59)).toBe(false);
    expect(inQuietWindow(lunch, 13 * 60)).toBe(true);
    expect(inQuietWindow(lunch, 14 * 60)).toBe(false);
  });

  it("equal start and end means no quiet hours", () => {
    expect(inQuietWindow({ start: "08:00", end: "08:00" }, 8 * 60)).toBe(false);
  });

  it("no rule → not applicable; an unknown zone is refused, never guessed", () => {
    expect(decideQuietHours({ rule: null, timeZone: "Mars/Olympus", now: 0 }).reason).toBe("quiet_hours_not_applicable");
    expect(decideQuietHours({ rule: NIGHT, timeZone: "Mars/Olympus", now: 0 })).toEqual({
      stage: "quiet_hours",
      outcome: "deny",
      reason: "recipient_invalid_timezone",
      detail: { timezone: "Mars/Olympus" },
    });
    expect(isValidTimeZone("Asia/Kolkata")).toBe(true);
    expect(isValidTimeZone("")).toBe(false);
  });

  it("answers as a DateTimeFormat would for listed names, UTC's names, aliases, any case, and non-zones", () => {
    const byFormatter = (z: string) => {
      try {
        new Intl.DateTimeFormat("en-US", { timeZone: z });
        return true;
      } catch {
        return false;
      }
    };
    const names = [
      ...Intl.supportedValuesOf("timeZone").slice(0, 50),
      "UTC",
      "utc",
      "Etc/UTC",
      "GMT",
      "Zulu",
      "US/Eastern",
      "Asia/Calcutta",
      "america/new_york",
      "Etc/GMT+5",
      "Mars/Olympus",
      "UTC+1",
      "Europe/Berlin ",
    ];
    for (const z of names) expect([z, isValidTimeZone(z)]).toEqual([z, byFormatter(z)]);
  });
});
