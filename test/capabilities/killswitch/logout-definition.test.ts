/**
 * One definition of "logged out": the transport gate (kill-switch snapshot), the connector runtime and health all
 * treat a lifecycle record as logged out by its `state` alone, so a hand-written `{"state":"logged_out"}` stops
 * intake, holds delivery and is not reported as a dead connector — never one without the others.
 */
import { afterEach, describe, expect, it } from "vitest";
import { readConnectorStatuses } from "../../../src/app/connectors-runtime.ts";
import { readOperationalSnapshot } from "../../../src/capabilities/killswitch/gate.ts";
import { lifecycleStatusSection } from "../../../src/capabilities/killswitch/status-sections.ts";
import { readConnectorFacts } from "../../../src/health/health-facts.ts";
import { makeTauHome, type TauHome } from "../../helpers/tau-home.ts";

let home: TauHome | null = null;
afterEach(() => home?.cleanup());

describe("logged out, defined once", () => {
  it("a minimal lifecycle record logs the transport out for the gate, the runtime status, tau status and health alike", () => {
    home = makeTauHome();
    const app = home.open(() => 5_000);
    try {
      app.store.kv.put("lifecycle:telegram", JSON.stringify({ state: "logged_out" }));
      app.store.kv.put("lifecycle:discord", "not json");
      expect([...readOperationalSnapshot(app.store, 5_000).loggedOut]).toEqual(["telegram"]);
      expect(
        readConnectorFacts(app)
          .filter((f) => f.loggedOut)
          .map((f) => f.status.transport),
      ).toEqual(["telegram"]);
      expect(lifecycleStatusSection.human(app)).toBe("logged out: telegram");
      expect(readConnectorStatuses(app).find((s) => s.transport === "telegram")).toMatchObject({
        liveness: "stopped",
        last_error_code: "logout_requested",
      });
    } finally {
      app.close();
    }
  });
});
