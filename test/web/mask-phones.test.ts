/**
 * The web page masks phone numbers when `telemetry.include_identifiers` is off — and only phone numbers: an approval
 * id is random hex, and one with a long run of digits (ap_013214862f) was shown as "ap_…62f" (the page's flash then
 * named no approval an operator could find; test/web/ui.test.ts failed whenever the random id had one).
 */
import { describe, expect, it } from "vitest";
import { maskPhones } from "../../src/app/web/actions.ts";

describe("web: maskPhones", () => {
  it("masks phone numbers, keeping the last two digits", () => {
    expect(maskPhones("whatsapp:16505551234")).toBe("whatsapp:…34");
    expect(maskPhones("call +1 (650) 555-1234 now")).toBe("call …34 now");
    expect(maskPhones("to 4915112345678.")).toBe("to …78.");
  });

  it("leaves digit runs inside ids and hashes alone", () => {
    expect(maskPhones("Approved ap_013214862f (allowlist add)")).toBe("Approved ap_013214862f (allowlist add)");
    expect(maskPhones("job_0123456789abcdef")).toBe("job_0123456789abcdef");
    expect(maskPhones("sha 9f86d081884c7d659a2feaa0c55ad015")).toBe("sha 9f86d081884c7d659a2feaa0c55ad015");
    expect(maskPhones("telegram:4242")).toBe("telegram:4242");
  });
});
