/**
 * The web control page (issue 17) in a real headless Chromium (puppeteer-core driving the system executable) against
 * the real HTTP runtime on 127.0.0.1 over a real state dir; sign-in links come from the real `tau ui login`. With
 * TAU_UI_SCREENSHOTS=1 the run also writes docs/ui/*.png. Skipped only when no Chromium executable exists (.ci/run
 * installs Debian's `chromium`).
 */
import fs from "node:fs";
import path from "node:path";
import puppeteer, { type Browser, type BrowserContext, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices, healthFor, type App } from "../../src/app/index.ts";
import { startHttpServer, type HttpRuntime } from "../../src/app/http-runtime.ts";
import { runWebCapability } from "../../src/app/web/actions.ts";
import { issueLoginLink } from "../../src/app/web/auth.ts";
import { setKillSwitch } from "../../src/capabilities/killswitch/index.ts";
import type { Services } from "../../src/capabilities/services.ts";
import { runTau } from "../helpers/run-tau.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((p) => fs.existsSync(p));
const SHOTS = process.env.TAU_UI_SCREENSHOTS === "1";
const RBAC = `schema_version: 1
admins: ["web:alice", "web:bob"]
operators: ["web:carol"]
`;

let h: TauHome;
let app: App;
let services: Services;
let http: HttpRuntime;
let browser: Browser;
const contexts: BrowserContext[] = [];

/** `tau ui login --as <who> --json`, pointed at the test server's port. */
async function loginLink(who: string): Promise<string> {
  const r = await runTau(["--state-dir", h.stateDir, "--config", h.configPath, "ui", "login", "--as", who, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  const url = new URL(r.json<{ url: string }>().url);
  return `${http.server.url}${url.pathname}${url.search}`;
}

/** A fresh browser profile (its own cookie jar) signed in as `who`, on the overview. */
async function signedIn(who: string): Promise<Page> {
  const ctx = await browser.createBrowserContext();
  contexts.push(ctx);
  const page = await ctx.newPage();
  const res = await page.goto(await loginLink(who));
  expect(res?.status()).toBe(200);
  expect(new URL(page.url()).pathname).toBe("/ui");
  return page;
}

const text = (page: Page, sel: string) => page.$eval(sel, (el) => (el.textContent ?? "").trim());
const flash = (page: Page) => text(page, "[role=status].flash");
async function shot(page: Page, name: string) {
  if (SHOTS) await page.screenshot({ path: path.join("docs", "ui", `${name}.png`), fullPage: true });
}
async function submit(page: Page, buttonText: string) {
  const buttons = await page.$$("button");
  for (const b of buttons) {
    if ((await b.evaluate((el) => el.textContent?.trim())) === buttonText) {
      await Promise.all([page.waitForNavigation(), b.click()]);
      return;
    }
  }
  throw new Error(`no button "${buttonText}" on ${page.url()}`);
}

describe.runIf(CHROMIUM)("web control page in headless Chromium", () => {
  beforeAll(async () => {
    h = makeTauHome("runner:\n  coalesce_window_ms: 0\n", { "channel-policy.yaml": OPEN_CHANNEL_POLICY, "rbac.yaml": RBAC });
    app = h.open();
    services = createServices(app);
    http = await startHttpServer(app, null, { health: () => healthFor(app), bind: "127.0.0.1:0" });
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [...(process.getuid?.() === 0 ? ["--no-sandbox"] : []), "--disable-gpu", "--disable-dev-shm-usage"],
    });
  }, 60_000);
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await http?.server.close(100);
    app?.close();
    h?.cleanup();
  });

  it("a link from tau ui login signs in (HttpOnly, SameSite=Strict session cookie) and the overview shows the health tau health gives", async () => {
    const page = await signedIn("web:alice");
    const cookies = await page.browserContext().cookies();
    const session = cookies.find((c) => c.name === "tau_ui")!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict", secure: false, path: "/ui" });
    const expected = healthFor(app);
    expect(await text(page, "#health-state")).toBe(expected.state);
    expect(await text(page, "#health-reasons")).toBe(expected.reason_codes.length ? expected.reason_codes.join(", ") : "none");
    expect(await text(page, "#rollout-gate")).toBe(expected.state === "healthy" ? "pass" : "fail");
    expect(await text(page, "h1")).toBe("Overview");
    expect(await page.$$eval("main", (m) => m.length)).toBe(1);
    // The token never stays in the address bar, and only its hash is stored.
    expect(page.url()).not.toContain("token=");
    await shot(page, "overview");
  });

  it("flipping a kill switch in the page changes the health the page and tau health show", async () => {
    const page = await signedIn("web:alice");
    expect(await text(page, "#ks-outbound")).toBe("off");
    await page.type("#main form input[name=reason]", "web test");
    await submit(page, "Turn outbound on");
    expect(await flash(page)).toContain("outbound");
    expect(await text(page, "#ks-outbound")).toContain("ON");
    const after = healthFor(app);
    expect(after.reason_codes).toContain("kill_switch_on:outbound");
    expect(await text(page, "#health-reasons")).toContain("kill_switch_on:outbound");
    expect(await text(page, "#health-state")).toBe(after.state);
    // The change went through the capability path: audited with surface web and the browser principal.
    const row = app.store.audit
      .all()
      .find((r) => r.action === "killswitch.on" || (r.action === "command" && r.target === "tau.killswitch.on"));
    expect(row).toMatchObject({ actor: "web:alice", surface: "web" });
    await submit(page, "Turn outbound off");
    expect(healthFor(app).reason_codes).not.toContain("kill_switch_on:outbound");
    expect(await text(page, "#health-reasons")).not.toContain("kill_switch_on:outbound");

    // A switch flipped elsewhere (the CLI, chat) shows in the open page without a reload: the health region refreshes.
    const url = page.url();
    setKillSwitch(app.store, { scope: "responders", on: true, reason: "", actor: "cli:root", surface: "cli" }, app.clock(), services.audit);
    await page.waitForFunction('document.getElementById("health-reasons").textContent.includes("kill_switch_on:responders")');
    expect(page.url()).toBe(url);
    setKillSwitch(
      app.store,
      { scope: "responders", on: false, reason: "", actor: "cli:root", surface: "cli" },
      app.clock(),
      services.audit,
    );
  });

  it("a two-person request is refused to its requester and to an operator, and approved by a second admin: allowlist changes, audit records it", async () => {
    const req = await runWebCapability(
      services,
      "tau.allowlist.add",
      { actor: "telegram:4242" },
      { principal: "web:alice", role: "admin" },
    );
    expect(req.reason_code).toBe("approval_requested");
    const id = (req.data as { approval_id: string }).approval_id;

    const carol = await signedIn("web:carol");
    await carol.goto(`${http.server.url}/ui/approvals`);
    expect(await text(carol, `#approval-${id} td:nth-of-type(1)`)).toContain("tau.allowlist.add");
    await shot(carol, "approvals");
    await submit(carol, "Approve");
    expect(await flash(carol)).toContain("approval_rbac_denied");
    await submit(carol, "Deny");
    expect(await flash(carol)).toContain("approval_rbac_denied");

    const alice = await signedIn("web:alice");
    await alice.goto(`${http.server.url}/ui/approvals`);
    await submit(alice, "Approve");
    expect(await flash(alice)).toContain("approval_same_principal");
    expect(app.store.access.isAllowlisted("telegram:4242")).toBe(false);

    const bob = await signedIn("web:bob");
    await bob.goto(`${http.server.url}/ui/approvals`);
    await submit(bob, "Approve");
    expect(await flash(bob)).toContain(`Approved ${id}`);
    expect(app.store.access.isAllowlisted("telegram:4242")).toBe(true);
    expect(await bob.$(`#approval-${id}`)).toBeNull();
    const approved = app.store.audit.all().find((r) => r.action === "approval.approve" && r.outcome === "approved");
    expect(approved).toMatchObject({ actor: "web:bob", surface: "web", target: "tau.allowlist.add" });
    const refused = app.store.audit.all().filter((r) => r.action.startsWith("approval.") && r.outcome === "refused");
    expect(refused.map((r) => [r.actor, r.reason_code])).toEqual([
      ["web:carol", "approval_rbac_denied"],
      ["web:carol", "approval_rbac_denied"],
      ["web:alice", "approval_same_principal"],
    ]);

    // The audit page shows it, filtered by actor, with the chain verified.
    await bob.goto(`${http.server.url}/ui/audit?actor=web%3Abob`);
    const rows = await bob.$$eval("tbody tr", (trs) => trs.map((tr) => tr.textContent ?? ""));
    expect(rows.some((r) => r.includes("approval.approve") && r.includes("tau.allowlist.add") && r.includes("approved"))).toBe(true);
    expect(rows.every((r) => r.includes("web:bob"))).toBe(true);
    expect(await text(bob, "#audit-verify")).toMatch(/audit verify: ok/);
    await shot(bob, "audit");
  });

  it("replays a dead letter; an ambiguous one is marked and left alone by 'Replay all'", async () => {
    const now = app.clock();
    const row = (id: string, status: string) => {
      app.store.outbox.insert(
        {
          outbox_id: id,
          event_id: null,
          transport: "telegram",
          account_id: "6112",
          conversation_id: "telegram:dm:4242",
          thread_id: null,
          reply_to: null,
          mode: "live",
          purpose: "reply",
          status,
          reason: status === "unknown" ? "send_ambiguous" : "retries_exhausted",
          chunk_count: 1,
        },
        now,
      );
      app.store.outbox.insertChunk(
        {
          outbox_id: id,
          idx: 0,
          body: "a private reply",
          status: status === "unknown" ? "unknown" : "failed",
          reason: null,
          receipt: null,
        },
        now,
      );
    };
    row("ob_dead1", "dead_letter");
    row("ob_amb1", "unknown");
    const page = await signedIn("web:carol");
    await page.goto(`${http.server.url}/ui/deadletters`);
    expect(await text(page, "#dl-ob_amb1 td:nth-of-type(3)")).toBe("ambiguous");
    // Message bodies are not on the page.
    expect(await page.content()).not.toContain("a private reply");
    await shot(page, "deadletters");
    await submit(page, "Replay all");
    expect(await flash(page)).toContain("Re-queued 1; left 1 ambiguous alone");
    expect(app.store.outbox.get("ob_dead1")?.status).toBe("queued");
    expect(app.store.outbox.get("ob_amb1")?.status).toBe("unknown");
    await submit(page, "Replay ob_amb1");
    expect(app.store.outbox.get("ob_amb1")?.status).toBe("queued");
    const audits = app.store.audit.all().filter((r) => r.action === "deadletter.replay");
    expect(audits.map((r) => [r.actor, r.surface, JSON.parse(r.args).ids])).toEqual([
      ["web:carol", "web", ["ob_dead1"]],
      ["web:carol", "web", ["ob_amb1"]],
    ]);
  });

  it("pairing lists pending codes (identifiers masked); live events stream new runtime events over SSE", async () => {
    const now = app.clock();
    app.store.access.insertPairing(
      {
        code: "PAIR42",
        actor_key: "whatsapp:15551234567",
        channel_key: "whatsapp:dm:15551234567",
        display: null,
        expires_at_ms: now + 600_000,
      },
      now,
    );
    app.store.runner.insertRuntimeEvent(now, "health.changed", "degraded", ["kill_switch_on:outbound"], {});
    const page = await signedIn("web:carol");
    await page.goto(`${http.server.url}/ui/pairing`);
    expect(await text(page, "h1")).toBe("Pairing");
    const html = await page.content();
    expect(html).toContain("PAIR42");
    expect(html).not.toContain("15551234567");
    await shot(page, "pairing");
    await page.goto(`${http.server.url}/ui/events`);
    expect(await text(page, "#event-list")).toContain("health.changed degraded (kill_switch_on:outbound)");
    app.store.runner.insertRuntimeEvent(app.clock(), "runner.stopped", "failing", ["runner_stale"], {});
    await page.waitForFunction('document.getElementById("event-list").textContent.includes("runner.stopped failing")');
    await shot(page, "events");
  });

  it("an operator may not flip a kill switch: the page offers no button and a forged POST is refused by RBAC", async () => {
    const page = await signedIn("web:carol");
    expect(await page.$$eval("button", (bs) => bs.map((b) => b.textContent))).not.toContain("Turn outbound on");
    const csrf = await page.$eval("input[name=csrf]", (el) => (el as unknown as { value: string }).value);
    const status = await page.evaluate(async (csrf) => {
      const r = await fetch("/ui/killswitch", { method: "POST", body: new URLSearchParams({ csrf, scope: "outbound", to: "on" }) });
      return r.status;
    }, csrf);
    expect(status).toBe(200);
    expect(await text(page, "h1")).toBe("Overview");
    expect(healthFor(app).reason_codes).not.toContain("kill_switch_on:outbound");
    expect(app.store.audit.all().at(-1)).toMatchObject({
      actor: "web:carol",
      surface: "web",
      outcome: "refused",
      reason_code: "command_rbac_denied",
    });
  });

  it("a POST without (or with a wrong) CSRF token is refused 403 and changes nothing", async () => {
    const page = await signedIn("web:alice");
    const statuses = await page.evaluate(async () => {
      const post = (body: Record<string, string>) =>
        fetch("/ui/killswitch", { method: "POST", body: new URLSearchParams(body), redirect: "manual" }).then((r) => r.status);
      return [await post({ scope: "outbound", to: "on" }), await post({ csrf: "0".repeat(40), scope: "outbound", to: "on" })];
    });
    expect(statuses).toEqual([403, 403]);
    expect(healthFor(app).reason_codes).not.toContain("kill_switch_on:outbound");
  });

  it("no page answers without a session; a reused or expired link is refused; sign-out ends the session", async () => {
    for (const p of [
      "/ui",
      "/ui/approvals",
      "/ui/pairing",
      "/ui/deadletters",
      "/ui/audit",
      "/ui/events",
      "/ui/events/stream",
      "/ui/nope",
    ]) {
      expect((await fetch(`${http.server.url}${p}`, { redirect: "manual" })).status, p).toBe(401);
    }
    expect(
      (await fetch(`${http.server.url}/ui/killswitch`, { method: "POST", body: new URLSearchParams({ scope: "outbound", to: "on" }) }))
        .status,
    ).toBe(401);

    const link = await loginLink("web:bob");
    const ctx = await browser.createBrowserContext();
    contexts.push(ctx);
    const first = await ctx.newPage();
    expect((await first.goto(link))?.status()).toBe(200);
    const other = await (await browser.createBrowserContext()).newPage();
    contexts.push(other.browserContext());
    expect((await other.goto(link))?.status()).toBe(403);
    expect(await text(other, "h1")).toBe("Sign-in refused");

    const expired = issueLoginLink(services, app.store, "web:bob", app.clock() - 11 * 60_000);
    const u = new URL(expired.url);
    expect((await other.goto(`${http.server.url}${u.pathname}${u.search}`))?.status()).toBe(403);

    await submit(first, "Sign out");
    expect(await text(first, "h1")).toBe("Signed out");
    expect((await first.goto(`${http.server.url}/ui`))?.status()).toBe(401);
  });

  it("with JavaScript off, sign-in, every page and a form still work (server-rendered HTML)", async () => {
    const ctx = await browser.createBrowserContext();
    contexts.push(ctx);
    const page = await ctx.newPage();
    await page.setJavaScriptEnabled(false);
    const res = await page.goto(await loginLink("web:alice"));
    expect(res?.status()).toBe(200);
    expect(await text(page, "#health-state")).toBe(healthFor(app).state);
    for (const [where, heading] of [
      ["/ui/approvals", "Approvals"],
      ["/ui/pairing", "Pairing"],
      ["/ui/deadletters", "Dead letters"],
      ["/ui/audit", "Audit"],
    ] as const) {
      const r = await page.goto(`${http.server.url}${where}`);
      expect(r?.status(), where).toBe(200);
      expect(await text(page, "h1"), where).toBe(heading);
    }
    // A plain form POST (no script) flips the switch and comes back to the page.
    await page.goto(`${http.server.url}/ui`);
    await submit(page, "Turn responders on");
    expect(await flash(page)).toContain("responders");
    expect(healthFor(app).reason_codes).toContain("kill_switch_on:responders");
    expect(await text(page, "#ks-responders")).toContain("ON");
    await submit(page, "Turn responders off");
    expect(healthFor(app).reason_codes).not.toContain("kill_switch_on:responders");
  });

  it("tau ui login refuses a principal rbac.yaml does not list (exit 2)", async () => {
    const r = await runTau(["--state-dir", h.stateDir, "--config", h.configPath, "ui", "login", "--as", "web:mallory", "--json"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("policies/rbac.yaml");
    expect(r.stdout).not.toContain("token=");
  });

  it("repeated bad sign-in links are rate-limited (429)", async () => {
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) codes.push((await fetch(`${http.server.url}/ui/login?token=${"x".repeat(32)}${i}`)).status);
    expect(codes.filter((c) => c === 403).length).toBeGreaterThan(0);
    expect(codes.at(-1)).toBe(429);
  });
});
