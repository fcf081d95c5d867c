/**
 * @module The web control page's server-rendered HTML (hono/html: every interpolation is escaped). One layout with
 * a skip link, a header landmark with the navigation, one `main` with one `h1`; tables with captions and column
 * headers; every form field labelled; every state-changing form carries the session's CSRF token. Template text is
 * ASCII (`&mdash;`, `&middot;`): the build escapes other strings' characters but cannot escape a tagged template's, and
 * one non-ASCII character makes V8 hold the whole 1.6 MB CLI bundle at two bytes a character in every process.
 */
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export const NAV = [
  ["/ui", "Overview"],
  ["/ui/approvals", "Approvals"],
  ["/ui/pairing", "Pairing"],
  ["/ui/deadletters", "Dead letters"],
  ["/ui/audit", "Audit"],
  ["/ui/events", "Live events"],
] as const;

export const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? "—" : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** A table with a caption and column headers (`scope="col"`); `rows` are its `<tr>`s. */
function dataTable(caption: string, columns: readonly string[], rows: Html | Html[]): Html {
  return html`<table>
    <caption class="muted">
      ${caption}
    </caption>
    <thead>
      <tr>
        ${columns.map((c) => html`<th scope="col">${c}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${rows}
    </tbody>
  </table>`;
}

export interface LayoutInput {
  title: string;
  path: string;
  principal: string | null;
  role?: string;
  csrf?: string;
  flash?: { ok: boolean; text: string } | null;
  body: Html;
}

export function layout(p: LayoutInput): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${p.title} &middot; tau</title>
        <link rel="stylesheet" href="/ui/static/style.css" />
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header>
          <p><strong>tau</strong> control</p>
          ${
            p.principal
              ? html`<nav aria-label="Sections">
                    <ul>
                      ${NAV.map(
                        ([href, label]) =>
                          html`<li><a href="${href}" ${p.path === href ? raw(' aria-current="page"') : ""}>${label}</a></li>`,
                      )}
                    </ul>
                  </nav>
                  <form class="inline" method="post" action="/ui/logout">
                    <input type="hidden" name="csrf" value="${p.csrf ?? ""}" /> <span class="muted">${p.principal} (${p.role})</span>
                    <button type="submit">Sign out</button>
                  </form>`
              : ""
          }
        </header>
        <main id="main">
          <h1>${p.title}</h1>
          ${p.flash ? html`<p role="status" class="flash${p.flash.ok ? "" : " failed"}">${p.flash.text}</p>` : ""} ${p.body}
        </main>
        <script src="/ui/static/app.js" defer></script>
      </body>
    </html>`;
}

/** A hidden CSRF field plus the given fields, posting to `action`, with one submit button. */
export function actionForm(action: string, csrf: string, label: string, fields: Record<string, string> = {}, extra: Html | "" = ""): Html {
  return html`<form class="inline" method="post" action="${action}">
    <input type="hidden" name="csrf" value="${csrf}" />${Object.entries(fields).map(
      ([k, v]) => html`<input type="hidden" name="${k}" value="${v}" />`,
    )}${extra}<button type="submit">${label}</button>
  </form>`;
}

export interface OverviewData {
  health: { state: string; reason_codes: string[]; queue_depth: number; backlog_age_ms: number; failure_streak: number };
  connectors: {
    transport: string;
    mode: string;
    liveness: string;
    last_error_code: string | null;
    last_error_unix_ms: number | null;
    last_success_unix_ms: number | null;
  }[];
  killswitches: { scope: string; on: boolean; reason: string; changed_by: string | null; at_ms: number | null }[];
  incidents: { incident_id: string; severity: string; status: string; scope: string; failure_mode: string }[];
  deadLetters: number;
  pendingApprovals: number;
}

export function overviewBody(d: OverviewData, csrf: string, canSwitch: boolean): Html {
  const h = d.health;
  return html`<section id="health" data-live aria-labelledby="h-health">
      <h2 id="h-health">Health</h2>
      <dl>
        <dt>State</dt>
        <dd><strong id="health-state" class="state-${h.state}">${h.state}</strong></dd>
        <dt>Reasons</dt>
        <dd id="health-reasons">${h.reason_codes.length ? h.reason_codes.join(", ") : "none"}</dd>
        <dt>Rollout gate</dt>
        <dd id="rollout-gate">${h.state === "healthy" ? "pass" : "fail"}</dd>
        <dt>Queue depth</dt>
        <dd id="queue-depth">${h.queue_depth}</dd>
        <dt>Backlog age</dt>
        <dd>${Math.round(h.backlog_age_ms / 1000)} s</dd>
        <dt>Failure streak</dt>
        <dd>${h.failure_streak}</dd>
        <dt>Dead letters</dt>
        <dd><a href="/ui/deadletters">${d.deadLetters}</a></dd>
        <dt>Pending approvals</dt>
        <dd><a href="/ui/approvals">${d.pendingApprovals}</a></dd>
      </dl>
    </section>
    <section id="connectors" data-live aria-labelledby="h-conn">
      <h2 id="h-conn">Connectors</h2>
      ${
        d.connectors.length
          ? dataTable(
              "Liveness and last error per transport",
              ["Transport", "Mode", "Liveness", "Last success", "Last error"],
              d.connectors.map(
                (c) =>
                  html`<tr>
                    <th scope="row">${c.transport}</th>
                    <td>${c.mode}</td>
                    <td>${c.liveness}</td>
                    <td>${iso(c.last_success_unix_ms)}</td>
                    <td>
                      ${c.last_error_code ?? "—"}
                      ${c.last_error_unix_ms ? html`<span class="muted">(${iso(c.last_error_unix_ms)})</span>` : ""}
                    </td>
                  </tr>`,
              ),
            )
          : html`<p>No connectors enabled.</p>`
      }
    </section>
    <section aria-labelledby="h-ks">
      <h2 id="h-ks">Kill switches</h2>
      ${dataTable(
        "A switch that is on holds that part of tau",
        ["Scope", "State", "Changed", "Action"],
        d.killswitches.map(
          (k) =>
            html`<tr>
              <th scope="row">${k.scope}</th>
              <td id="ks-${k.scope}">${k.on ? "ON" : "off"}${k.reason ? html` &mdash; ${k.reason}` : ""}</td>
              <td>${k.changed_by ?? "—"} <span class="muted">${iso(k.at_ms)}</span></td>
              <td>
                ${
                  canSwitch
                    ? actionForm(
                        "/ui/killswitch",
                        csrf,
                        k.on ? `Turn ${k.scope} off` : `Turn ${k.scope} on`,
                        { scope: k.scope, to: k.on ? "off" : "on" },
                        html`<label>Reason <input name="reason" maxlength="200" autocomplete="off" /></label> `,
                      )
                    : html`<span class="muted">admins only</span>`
                }
              </td>
            </tr>`,
        ),
      )}
    </section>
    <section aria-labelledby="h-inc">
      <h2 id="h-inc">Open incidents</h2>
      ${
        d.incidents.length
          ? html`<ul>
              ${d.incidents.map((i) => html`<li><strong>${i.incident_id}</strong> ${i.severity} ${i.status} &mdash; ${i.scope}: ${i.failure_mode}</li>`)}
            </ul>`
          : html`<p>None open.</p>`
      }
    </section>`;
}

export interface ApprovalView {
  id: string;
  capability_id: string;
  requester: string;
  surface: string;
  args: string;
  hash: string;
  expires_at_ms: number;
  approval: string;
}

export function approvalsBody(rows: ApprovalView[], csrf: string): Html {
  if (!rows.length) return html`<p>No pending requests.</p>`;
  return dataTable(
    "Pending requests (arguments redacted)",
    ["Id", "Capability", "Requester", "Arguments", "Expires", "Decide"],
    rows.map(
      (r) =>
        html`<tr id="approval-${r.id}">
          <th scope="row"><code>${r.id}</code></th>
          <td>${r.capability_id} <span class="muted">(${r.approval})</span></td>
          <td>${r.requester} <span class="muted">via ${r.surface}</span></td>
          <td><code>${r.args}</code></td>
          <td>${iso(r.expires_at_ms)}</td>
          <td>
            ${actionForm(`/ui/approvals/${r.id}/approve`, csrf, "Approve", { hash: r.hash })}
            ${actionForm(`/ui/approvals/${r.id}/deny`, csrf, "Deny", { hash: r.hash })}
          </td>
        </tr>`,
    ),
  );
}

export function pairingBody(rows: { code: string; actor: string; channel: string; expires_at_ms: number }[], csrf: string): Html {
  if (!rows.length) return html`<p>No pending pairing codes.</p>`;
  return dataTable(
    "Pending pairing codes",
    ["Code", "Actor", "Channel", "Expires", "Decide"],
    rows.map(
      (r) =>
        html`<tr>
          <th scope="row"><code>${r.code}</code></th>
          <td>${r.actor}</td>
          <td>${r.channel}</td>
          <td>${iso(r.expires_at_ms)}</td>
          <td>
            ${actionForm("/ui/pairing/approve", csrf, "Approve", { code: r.code })}
            ${actionForm("/ui/pairing/deny", csrf, "Deny", { code: r.code })}
          </td>
        </tr>`,
    ),
  );
}

export interface DeadLetterView {
  outbox_id: string;
  transport: string;
  conversation: string;
  kind: string;
  reason: string;
  attempts: number;
  sent: string;
  error: string;
  replayable: boolean;
}

export function deadLettersBody(rows: DeadLetterView[], csrf: string): Html {
  const ambiguousBox = html`<label><input type="checkbox" name="include_ambiguous" value="1" /> include ambiguous</label> `;
  return html`${
    rows.length
      ? html`${dataTable(
            "Undelivered replies, oldest first. Ambiguous ones may have been delivered: check the conversation first.",
            ["Outbox id", "Transport", "Conversation", "Kind", "Reason", "Attempts", "Sent", "Last error", "Replay"],
            rows.map(
              (r) =>
                html`<tr id="dl-${r.outbox_id}">
                  <th scope="row"><code>${r.outbox_id}</code></th>
                  <td>${r.transport}</td>
                  <td>${r.conversation}</td>
                  <td>${r.kind === "ambiguous" ? html`<strong>ambiguous</strong>` : r.kind}</td>
                  <td>${r.reason}</td>
                  <td>${r.attempts}</td>
                  <td>${r.sent}</td>
                  <td>${r.error}</td>
                  <td>
                    ${
                      r.replayable
                        ? actionForm("/ui/deadletters/replay", csrf, `Replay ${r.outbox_id}`, {
                            only: r.outbox_id,
                            ...(r.kind === "ambiguous" ? { include_ambiguous: "1" } : {}),
                          })
                        : html`<span class="muted">refused for good</span>`
                    }
                  </td>
                </tr>`,
            ),
          )}
          <p>${actionForm("/ui/deadletters/replay", csrf, "Replay all", {}, ambiguousBox)}</p>`
      : html`<p>No dead letters.</p>`
  }`;
}

export interface AuditView {
  seq: number;
  at: string;
  actor: string;
  surface: string;
  action: string;
  target: string;
  args: string;
  outcome: string;
  reason: string;
}

export function auditBody(
  rows: AuditView[],
  filter: { actor: string; capability: string; outcome: string },
  page: { n: number; more: boolean; query: (n: number) => string },
  verify: { ok: boolean; text: string },
): Html {
  return html`<p id="audit-verify" role="status">audit verify: <strong>${verify.ok ? "ok" : "FAILED"}</strong> &mdash; ${verify.text}</p>
    <form method="get" action="/ui/audit" aria-label="Filter the audit trail">
      <label>Actor <input name="actor" value="${filter.actor}" /></label>
      <label>Capability <input name="capability" value="${filter.capability}" /></label>
      <label>Outcome <input name="outcome" value="${filter.outcome}" /></label>
      <button type="submit">Filter</button>
    </form>
    ${dataTable(
      "Newest first, 50 a page",
      ["#", "At", "Actor", "Surface", "Action", "Target", "Arguments", "Outcome", "Reason"],
      rows.map(
        (r) =>
          html`<tr>
            <th scope="row">${r.seq}</th>
            <td>${r.at}</td>
            <td>${r.actor}</td>
            <td>${r.surface}</td>
            <td>${r.action}</td>
            <td>${r.target}</td>
            <td><code>${r.args}</code></td>
            <td>${r.outcome}</td>
            <td>${r.reason}</td>
          </tr>`,
      ),
    )}
    <nav aria-label="Audit pages">
      <ul>
        ${page.n > 1 ? html`<li><a href="${page.query(page.n - 1)}" rel="prev">Newer</a></li>` : ""}${
          page.more ? html`<li><a href="${page.query(page.n + 1)}" rel="next">Older</a></li>` : ""
        }
      </ul>
    </nav>`;
}

export function eventsBody(rows: { at: string; event: string; health: string; reasons: string[] }[]): Html {
  return html`<p class="muted">Runtime events (health changes, starts, stops), newest first; new ones appear as they happen.</p>
    <ul id="event-list" aria-live="polite">
      ${[...rows]
        .reverse()
        .map((e) => html`<li>${e.at} ${e.event} ${e.health}${e.reasons.length ? ` (${e.reasons.join(", ")})` : ""}</li>`)}
    </ul>`;
}

export function messagePage(title: string, text: string): Html {
  return layout({ title, path: "", principal: null, body: html`<p>${text}</p>` });
}
