/**
 * Sign-in links and sessions of the web control page over a real state dir: only sha256 hashes are stored, a link
 * opens one session once and not after its 10 minutes, the CSRF token belongs to its session, `web:<name>` is a valid
 * rbac.yaml principal, and pages mask identifiers as logs do unless telemetry.include_identifiers is on.
 */
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { createServices, type App } from "../../src/app/index.ts";
import { displayArgs } from "../../src/app/web/actions.ts";
import { createUiApp } from "../../src/app/web/routes.ts";
import { csrfFor, csrfOk, issueLoginLink, LOGIN_TTL_MS, openSession, sha256 } from "../../src/app/web/auth.ts";
import { RbacFileSchema } from "../../src/contracts/policy.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";

let h: TauHome;
let app: App;
afterEach(() => {
  app?.close();
  h?.cleanup();
});

function open(): App {
  h = makeTauHome("", {
    "channel-policy.yaml": OPEN_CHANNEL_POLICY,
    "rbac.yaml": 'schema_version: 1\nadmins: ["web:alice"]\noperators: ["telegram:42"]\n',
  });
  app = h.open();
  return app;
}

describe("web sign-in", () => {
  it("stores only the sha256 of link and session tokens; a link opens one session, once", () => {
    open();
    const services = createServices(app);
    const now = app.clock();
    const link = issueLoginLink(services, app.store, "web:alice", now);
    expect(link).toMatchObject({ principal: "web:alice", role: "admin", expires_at_ms: now + LOGIN_TTL_MS });
    const token = new URL(link.url).searchParams.get("token")!;
    expect(link.url.startsWith("http://127.0.0.1:8788/ui/login?token=")).toBe(true);
    const s = openSession(app.store, token, now + 1)!;
    expect(s.principal).toBe("web:alice");
    expect(openSession(app.store, token, now + 2)).toBeNull();

    const db = new Database(path.join(h.stateDir, "tau.db"), { readonly: true });
    try {
      const tokens = db.prepare("SELECT * FROM ui_login_tokens").all() as Record<string, unknown>[];
      const sessions = db.prepare("SELECT * FROM ui_sessions").all() as Record<string, unknown>[];
      expect(tokens.map((t) => t.token_hash)).toEqual([sha256(token)]);
      expect(sessions.map((t) => t.session_hash)).toEqual([sha256(s.session)]);
      const all = JSON.stringify([tokens, sessions]);
      expect(all).not.toContain(token);
      expect(all).not.toContain(s.session);
    } finally {
      db.close();
    }
  });

  it("GET /login answers only after the link it used up and the session it opened are on disk", async () => {
    open();
    const services = createServices(app);
    const token = new URL(issueLoginLink(services, app.store, "web:alice", app.clock()).url).searchParams.get("token")!;
    // What the database held each time the store was asked to make its commits durable.
    const sessionsAtSync: number[] = [];
    const count = () => {
      const db = new Database(path.join(h.stateDir, "tau.db"), { readonly: true });
      try {
        return (db.prepare("SELECT COUNT(*) AS n FROM ui_sessions").get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    const sync = app.store.syncBeforeEffect;
    app.store.syncBeforeEffect = () => {
      sessionsAtSync.push(count());
      sync();
    };
    const res = await createUiApp(app, services).request(`/login?token=${token}`);
    expect(res.status).toBe(303);
    expect(res.headers.get("set-cookie")).toMatch(/HttpOnly/i);
    // Before: GET answers were never synced (only other methods), so the cookie could outlive the session on disk.
    expect(sessionsAtSync).toEqual([1]);
  });

  it("a link is refused after its 10 minutes; an actor key from rbac.yaml may sign in; an unlisted one is a usage error", () => {
    open();
    const services = createServices(app);
    const now = app.clock();
    const token = new URL(issueLoginLink(services, app.store, "web:alice", now).url).searchParams.get("token")!;
    expect(openSession(app.store, token, now + LOGIN_TTL_MS)).toBeNull();
    expect(issueLoginLink(services, app.store, "telegram:42", now).role).toBe("operator");
    expect(() => issueLoginLink(services, app.store, "web:mallory", now)).toThrow(/USAGE_PRINCIPAL_UNKNOWN|not listed/);
  });

  it("the CSRF token is the session's own", () => {
    expect(csrfOk("session-a", csrfFor("session-a"))).toBe(true);
    expect(csrfOk("session-b", csrfFor("session-a"))).toBe(false);
    expect(csrfOk("session-a", undefined)).toBe(false);
  });

  it("rbac.yaml accepts web:<name> principals and still refuses malformed ones", () => {
    expect(RbacFileSchema.safeParse({ schema_version: 1, admins: ["web:alice", "web:ops.team"] }).success).toBe(true);
    const bad = RbacFileSchema.safeParse({ schema_version: 1, admins: ["web:", "web:*"] });
    expect(bad.success).toBe(false);
  });

  it("arguments on a page: secrets redacted, bodies and phone numbers masked unless include_identifiers", () => {
    const args = { to: "+1 555 123 4567", text: "meet at 5", api_key: "sk-123", actor: "whatsapp:15551234567" };
    const masked = displayArgs(args, false);
    expect(masked).not.toContain("555");
    expect(masked).not.toContain("meet at 5");
    expect(masked).not.toContain("sk-123");
    expect(masked).toContain("whatsapp:…67");
    const shown = displayArgs(args, true);
    expect(shown).toContain("meet at 5");
    expect(shown).toContain("whatsapp:15551234567");
    expect(shown).not.toContain("sk-123");
  });
});
