/** `/tau help`: optional arguments in [brackets], required in <angle brackets>, commands grouped by area (issue 12). */
import { afterEach, describe, expect, it } from "vitest";
import { createServices } from "../../../src/app/index.ts";
import { makeHarness, type Harness } from "../../helpers/pipeline-harness.ts";

let h: Harness | null = null;
afterEach(() => {
  h?.close();
  h = null;
});

async function help(role: "viewer" | "admin") {
  h ??= makeHarness({ "channel-policy.yaml": "schema_version: 1\ndefaultPolicy: { dmPolicy: allow, allowFrom: any }\n" });
  const services = createServices(h.app);
  const r = await services.registry
    .get("tau.help")!
    .run({}, { principal: "telegram:1", role, surface: "chat", now: h.now.ms, services, origin: null });
  return r.text.split("\n");
}

describe("/tau help", () => {
  it("marks optional arguments [arg] and required ones <arg>", async () => {
    const lines = await help("admin");
    expect(lines).toContain("/tau templates list [channel] — templates by channel and message type, with their variables");
    expect(lines.some((l) => l.startsWith("/tau approve <id> [hash] — "))).toBe(true);
    expect(lines.some((l) => l.startsWith("/tau pairing approve <code> — "))).toBe(true);
    expect(lines.some((l) => l.includes("<channel>"))).toBe(false);
  });

  it("groups commands by area, in a fixed order, and shows a viewer only what a viewer may run", async () => {
    const admin = (await help("admin")).filter((l) => l.endsWith(":"));
    expect(admin.slice(0, 4)).toEqual(["Basics:", "Approvals:", "Access:", "Kill switches:"]);
    const viewer = await help("viewer");
    expect(viewer[0]).toBe("Commands for your role (viewer). <required> [optional]");
    expect(viewer).not.toContain("Approvals:");
    expect(viewer).toContain("Basics:");
  });
});
