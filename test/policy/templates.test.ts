/** @module Tests for template rendering (declared variables, literal values) and recipient validation. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { renderTemplate, templatePlaceholders, validateRecipient, type TemplateSpec } from "../../src/policy/templates.ts";

const PAYMENT: TemplateSpec = {
  subject: null,
  body: "Hi {{customer_name}}, order #{{order_number}} has a balance of ${{ balance_amount }}. Pay: {{payment_link}}",
  required: ["customer_name", "order_number", "balance_amount", "payment_link"],
  optional: [],
};
const VARS = { customer_name: "Ana", order_number: "30020", balance_amount: "150.00", payment_link: "https://example.com/pay" };

describe("renderTemplate", () => {
  it("fills every placeholder", () => {
    expect(renderTemplate(PAYMENT, VARS)).toEqual({
      ok: true,
      subject: null,
      body: "Hi Ana, order #30020 has a balance of $150.00. Pay: https://example.com/pay",
      decision: { stage: "template", outcome: "allow", reason: "template_rendered", detail: { variables: 4 } },
    });
  });

  it("a missing or empty required variable is template_variable_missing, naming it", () => {
    const { payment_link: _drop, ...rest } = VARS;
    expect(renderTemplate(PAYMENT, rest)).toEqual({
      ok: false,
      variables: ["payment_link"],
      decision: { stage: "template", outcome: "deny", reason: "template_variable_missing", detail: { variables: "payment_link" } },
    });
    expect(renderTemplate(PAYMENT, { ...VARS, customer_name: "" })).toMatchObject({ ok: false, variables: ["customer_name"] });
  });

  it("an undeclared variable is template_variable_unknown (typos are not dropped silently)", () => {
    expect(renderTemplate(PAYMENT, { ...VARS, custmer_name: "Ana" })).toMatchObject({
      ok: false,
      variables: ["custmer_name"],
      decision: { reason: "template_variable_unknown" },
    });
  });

  it("optional variables render empty when absent; subjects render too", () => {
    const spec: TemplateSpec = {
      subject: "Order {{order_number}} shipped",
      body: "Tracking: {{tracking}}{{note}}",
      required: ["order_number", "tracking"],
      optional: ["note"],
    };
    expect(renderTemplate(spec, { order_number: "7", tracking: "1Z999" })).toMatchObject({
      ok: true,
      subject: "Order 7 shipped",
      body: "Tracking: 1Z999",
    });
  });

  it("lists placeholders once, in order", () => {
    expect(templatePlaceholders("{{a}} {{ b }} {{a}} {{1x}}")).toEqual(["a", "b"]);
  });

  it("property: values are inserted literally, never expanded again ($&, {{x}}, anything)", () => {
    const spec: TemplateSpec = { subject: null, body: "Hi {{name}}, code {{code}}.", required: ["name", "code"], optional: [] };
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (name, code) => {
        const r = renderTemplate(spec, { name, code });
        expect(r).toMatchObject({ ok: true, body: "Hi " + name + ", code " + code + "." });
      }),
    );
  });

  it("property: any undeclared variable name is reported as unknown", () => {
    const name = fc.stringMatching(/^[a-z_][a-z0-9_]{0,12}$/).filter((n) => !PAYMENT.required.includes(n));
    fc.assert(
      fc.property(name, fc.string({ minLength: 1 }), (n, v) => {
        const r = renderTemplate(PAYMENT, { ...VARS, [n]: v });
        expect(r).toMatchObject({ ok: false, variables: [n], decision: { reason: "template_variable_unknown" } });
      }),
    );
  });
});

describe("validateRecipient", () => {
  it("SMS needs E.164", () => {
    expect(validateRecipient("sms", "+15551234567")).toEqual({
      decision: { stage: "recipient", outcome: "allow", reason: "recipient_valid", detail: { channel: "sms" } },
      normalized: "+15551234567",
    });
    for (const bad of ["5551234567", "+1 555 123 4567", "+0123456789", "+1555123456789012", "+1-555-123-4567", "", "+"]) {
      expect(validateRecipient("sms", bad).decision.reason, bad).toBe("recipient_invalid_phone");
    }
  });

  it("email needs one plain address; the registry key is lower-cased", () => {
    expect(validateRecipient("email", "Ana.Silva@Example.COM").normalized).toBe("ana.silva@example.com");
    for (const bad of [
      "ana",
      "ana@",
      "@example.com",
      "ana@example",
      "ana silva@example.com",
      "Ana <ana@example.com>",
      "ana..s@example.com",
      "ana@exa_mple.com",
      "a@b@example.com",
    ]) {
      expect(validateRecipient("email", bad).decision.reason, bad).toBe("recipient_invalid_email");
    }
  });
});
