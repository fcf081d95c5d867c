/**
 * @module The web control page (`/ui`, issue 17), a Hono app the HTTP runtime mounts at `/ui` when `server.ui` is on. Every
 * page needs a session (401 otherwise) opened by a one-time link from `tau ui login`; every POST needs the session's
 * CSRF token (403 otherwise) and acts through the capability execute path with surface `web` (actions.ts). Health is
 * `healthFor(app)`, the same verdict as `tau health` and `/healthz`. Pages are no-store, never framed, and send no
 * referrer; identifiers are masked as in logs unless `telemetry.include_identifiers` is on.
 */
import { Hono, type Context } from "hono";
import { getCookie, setCookie, deleteCookie } from "hono/cookie";
import { streamSSE } from "hono/streaming";
import { appendAudit, verifyAuditInTurns } from "../../audit/audit-log.ts";
import type { FlagValue } from "../../capabilities/args.ts";
import type { CapabilityResult } from "../../capabilities/capability.ts";
import { KILLSWITCH_SCOPES } from "../../capabilities/killswitch/index.ts";
import type { Services } from "../../capabilities/services.ts";
import { listDeadLetters } from "../../outbound/dead-letters.ts";
import type { App } from "../open-app.ts";
import { healthFor } from "../services.ts";
import { readConnectorStatuses } from "../connectors-runtime.ts";
import { displayArgs, maskPhones, replayFromWeb, runWebCapability, type WebCaller } from "./actions.ts";
import { APP_JS, STYLE_CSS } from "./assets.ts";
import { csrfFor, csrfOk, loginLimiter, openSession, sha256, SESSION_COOKIE, SESSION_TTL_MS, webRole } from "./auth.ts";
import * as P from "./pages.ts";

interface Who extends WebCaller {
  session: string;
  csrf: string;
}
type Env = { Variables: { who: Who } };

const AUDIT_PAGE = 50;
/** How long one SSE response streams before it ends (the browser's EventSource reconnects with Last-Event-ID). */
const SSE_POLLS = 300;
const SSE_POLL_MS = 1000;

export function createUiApp(
  app: App,
  services: Services,
  opts: { connectorStatuses?: () => ReturnType<typeof readConnectorStatuses> } = {},
): Hono<Env> {
  const ui = new Hono<Env>();
  const limiter = loginLimiter();
  const flashes = new Map<string, { ok: boolean; text: string }>();
  const ids = app.config.telemetry.include_identifiers;
  const mask = (s: string) => (ids ? s : maskPhones(s));
  const secure = /^https:/i.test(app.config.server.public_url);

  ui.use("*", async (c, next) => {
    await next();
    c.header("Cache-Control", "no-store");
    c.header("Referrer-Policy", "no-referrer");
    c.header("X-Frame-Options", "DENY");
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'");
  });
  // An answer leaves once what it committed is on disk: an action's ("kill switch engaged", "approved"), and GET
  // /login's, which uses up its link and opens a session (a power loss must not give the link back after its cookie
  // was handed out). Nothing committed since the last sync: no fsync (durability.ts).
  ui.use("*", async (_c, next) => {
    await next();
    app.store.syncBeforeEffect();
  });

  ui.get("/static/style.css", (c) => c.body(STYLE_CSS, 200, { "content-type": "text/css; charset=utf-8" }));
  ui.get("/static/app.js", (c) => c.body(APP_JS, 200, { "content-type": "text/javascript; charset=utf-8" }));

  ui.get("/login", (c) => {
    const now = app.clock();
    if (limiter.blocked(now))
      return c.html(
        P.messagePage(
          "Too many sign-in attempts",
          "Too many failed sign-in attempts: wait a minute, then use a fresh link from tau ui login.",
        ),
        429,
      );
    const opened = openSession(app.store, c.req.query("token") ?? "", now);
    const role = opened ? webRole(services, opened.principal) : null;
    if (!opened || !role) {
      limiter.fail();
      return c.html(
        P.messagePage(
          "Sign-in refused",
          "This sign-in link is unknown, already used or expired. Run tau ui login --as <principal> for a new one.",
        ),
        403,
      );
    }
    setCookie(c, SESSION_COOKIE, opened.session, {
      httpOnly: true,
      sameSite: "Strict",
      secure,
      path: "/ui",
      maxAge: SESSION_TTL_MS / 1000,
    });
    appendAudit(
      app.store,
      {
        actor: opened.principal,
        surface: "web",
        action: "ui.login",
        target: "ui",
        args: {},
        outcome: "executed",
        reason_code: "ui_signed_in",
      },
      now,
    );
    return c.redirect("/ui", 303);
  });

  // Everything below needs a live session whose principal rbac.yaml still lists.
  const authed = async (c: Context<Env>, next: () => Promise<void>) => {
    const session = getCookie(c, SESSION_COOKIE) ?? "";
    const row = session ? app.store.ui.session(sha256(session), app.clock()) : undefined;
    const role = row ? webRole(services, row.principal) : null;
    if (!row || !role)
      return c.html(P.messagePage("Sign in", "Not signed in: run tau ui login --as <principal> and open the link it prints."), 401);
    c.set("who", { principal: row.principal, role, session, csrf: csrfFor(session) });
    if (c.req.method === "POST") {
      const form = await c.req.parseBody();
      if (!csrfOk(session, form["csrf"]))
        return c.html(P.messagePage("Refused", "Missing or wrong CSRF token: reload the page and try again."), 403);
    }
    await next();
  };
  ui.use("*", async (c, next) => (c.req.path.startsWith("/ui/static/") || c.req.path === "/ui/login" ? next() : authed(c, next)));

  const page = (c: Context<Env>, title: string, body: ReturnType<typeof P.layout>) => {
    const who = c.get("who");
    const flash = flashes.get(who.session) ?? null;
    if (flash && !c.req.header("x-tau-refresh")) flashes.delete(who.session);
    return c.html(P.layout({ title, path: c.req.path, principal: who.principal, role: who.role, csrf: who.csrf, flash, body }));
  };
  const done = (c: Context<Env>, to: string, r: CapabilityResult) => {
    flashes.set(c.get("who").session, { ok: r.status !== "failed", text: `${mask(r.text)} (${r.reason_code})` });
    return c.redirect(to, 303);
  };
  const form = async (c: Context<Env>): Promise<Record<string, string>> =>
    Object.fromEntries(Object.entries(await c.req.parseBody()).filter(([, v]) => typeof v === "string")) as Record<string, string>;

  ui.get("/", (c) => {
    const h = healthFor(app);
    const statuses = opts.connectorStatuses?.() ?? readConnectorStatuses(app).filter((s) => s.mode !== "disabled");
    const stored = app.store.killswitches.list();
    const now = app.clock();
    const body = P.overviewBody(
      {
        health: h,
        connectors: statuses.map((s) => ({ ...s, last_error_code: s.last_error_code })),
        killswitches: KILLSWITCH_SCOPES.filter(
          (s) =>
            s === "outbound" ||
            s === "responders" ||
            stored.some((r) => r.scope === s) ||
            statuses.some((x) => `transport:${x.transport}` === s),
        ).map((scope) => {
          const r = stored.find((x) => x.scope === scope);
          return { scope, on: r?.is_on ?? false, reason: r?.reason ?? "", changed_by: r?.changed_by ?? null, at_ms: r?.at_ms ?? null };
        }),
        incidents: app.store.incidents.open(),
        deadLetters: app.store.outbox.countInStatus("dead_letter") + app.store.outbox.countInStatus("unknown"),
        pendingApprovals: app.store.commands.listApprovals().filter((a) => a.status === "pending" && a.expires_at_ms > now).length,
      },
      c.get("who").csrf,
      c.get("who").role === "admin",
    );
    return page(c, "Overview", body);
  });

  ui.post("/killswitch", async (c) => {
    const f = await form(c);
    const capId = f["to"] === "on" ? "tau.killswitch.on" : "tau.killswitch.off";
    const flags: Record<string, FlagValue> = { scope: f["scope"] ?? "" };
    if (f["reason"]) flags["reason"] = f["reason"];
    return done(c, "/ui", await runWebCapability(services, capId, flags, c.get("who")));
  });

  ui.get("/approvals", (c) => {
    const now = app.clock();
    const rows = app.store.commands
      .listApprovals()
      .filter((a) => a.status === "pending" && a.expires_at_ms > now)
      .map((a) => ({
        id: a.id,
        capability_id: a.capability_id,
        requester: a.requester,
        surface: a.surface,
        args: displayArgs(JSON.parse(a.args), ids),
        hash: a.args_hash.slice(0, 8),
        expires_at_ms: a.expires_at_ms,
        approval: a.approval,
      }));
    return page(c, "Approvals", P.approvalsBody(rows, c.get("who").csrf));
  });
  for (const action of ["approve", "deny"] as const) {
    ui.post(`/approvals/:id/${action}`, async (c) => {
      const f = await form(c);
      const flags: Record<string, FlagValue> = { id: c.req.param("id") };
      if (f["hash"]) flags["hash"] = f["hash"];
      return done(c, "/ui/approvals", await runWebCapability(services, `tau.${action}`, flags, c.get("who")));
    });
    ui.post(`/pairing/${action}`, async (c) => {
      const f = await form(c);
      return done(c, "/ui/pairing", await runWebCapability(services, `tau.pairing.${action}`, { code: f["code"] ?? "" }, c.get("who")));
    });
  }

  ui.get("/pairing", (c) => {
    const now = app.clock();
    const rows = app.store.access
      .listPairings()
      .filter((p) => p.status === "pending" && p.expires_at_ms > now)
      .map((p) => ({ code: p.code, actor: mask(p.actor_key), channel: mask(p.channel_key), expires_at_ms: p.expires_at_ms }));
    return page(c, "Pairing", P.pairingBody(rows, c.get("who").csrf));
  });

  ui.get("/deadletters", (c) => {
    const rows = listDeadLetters(app.store, { limit: 500 }).map((r) => ({
      outbox_id: r.outbox_id,
      transport: r.transport,
      conversation: mask(r.conversation_id),
      kind: r.kind,
      reason: r.reason ?? "—",
      attempts: r.attempts,
      sent: `${r.chunks_sent}/${r.chunk_count}`,
      error: r.last_error?.detail ? mask(r.last_error.detail) : (r.last_error?.code ?? "—"),
      replayable: r.replayable,
    }));
    return page(c, "Dead letters", P.deadLettersBody(rows, c.get("who").csrf));
  });
  ui.post("/deadletters/replay", async (c) => {
    const f = await form(c);
    const only = f["only"] ? f["only"] : undefined;
    return done(c, "/ui/deadletters", replayFromWeb(services, c.get("who"), { only, includeAmbiguous: f["include_ambiguous"] === "1" }));
  });

  ui.get("/audit", async (c) => {
    const filter = {
      actor: c.req.query("actor") ?? "",
      capability: c.req.query("capability") ?? "",
      outcome: c.req.query("outcome") ?? "",
    };
    const n = Math.max(1, Math.min(100_000, Number.parseInt(c.req.query("page") ?? "1", 10) || 1));
    // One page (and one row more, to know whether there is a next) read by the store, not the whole table filtered here.
    const found = app.store.audit.filtered(
      { actor: filter.actor, target: filter.capability, outcome: filter.outcome },
      (n - 1) * AUDIT_PAGE,
      AUDIT_PAGE + 1,
    );
    const rows = found.slice(0, AUDIT_PAGE).map((r) => ({
      seq: r.seq,
      at: P.iso(r.at_ms),
      actor: mask(r.actor),
      surface: r.surface,
      action: r.action,
      target: r.target,
      args: displayArgs(JSON.parse(r.args || "{}"), ids),
      outcome: r.outcome,
      reason: r.reason_code,
    }));
    const v = await verifyAuditInTurns(app.store);
    const verify = {
      ok: v.ok,
      text: v.ok
        ? `${v.rows} rows, chain intact`
        : `${v.problems.length} problems, first: ${v.problems[0]?.code} at #${v.problems[0]?.seq}`,
    };
    const query = (p: number) => `/ui/audit?${new URLSearchParams({ ...filter, page: String(p) }).toString()}`;
    return page(c, "Audit", P.auditBody(rows, filter, { n, more: found.length > AUDIT_PAGE, query }, verify));
  });

  const eventView = (e: { at_ms: number; event: string; health: string; reason_codes: string }) => ({
    at: P.iso(e.at_ms),
    event: e.event,
    health: e.health,
    reasons: JSON.parse(e.reason_codes) as string[],
  });
  ui.get("/events", (c) => page(c, "Live events", P.eventsBody(app.store.ui.recentRuntimeEvents(50).map(eventView))));
  ui.get("/events/stream", (c) =>
    streamSSE(c, async (stream) => {
      let last = Number.parseInt(c.req.header("last-event-id") ?? "", 10);
      if (!Number.isFinite(last)) last = app.store.ui.recentRuntimeEvents(1).at(-1)?.id ?? 0;
      for (let i = 0; i < SSE_POLLS && !stream.aborted; i++) {
        for (const e of app.store.ui.runtimeEventsAfter(last, 100)) {
          await stream.writeSSE({ id: String(e.id), data: JSON.stringify(eventView(e)) });
          last = e.id;
        }
        await stream.sleep(SSE_POLL_MS);
      }
    }),
  );

  ui.post("/logout", (c) => {
    const who = c.get("who");
    app.store.ui.revokeSession(sha256(who.session), app.clock());
    flashes.delete(who.session);
    deleteCookie(c, SESSION_COOKIE, { path: "/ui", secure });
    return c.html(P.messagePage("Signed out", "Signed out. Run tau ui login for a new link."));
  });

  return ui;
}
