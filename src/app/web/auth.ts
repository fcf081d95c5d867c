/**
 * @module Sign-in for the web control page without passwords in tau: `tau ui login --as <principal>` stores the sha256
 * of a one-time token (10-minute expiry) and prints the link; opening it spends the token and opens a 12-hour session
 * (again only its sha256 is stored). The principal must be listed under `admins` or `operators` in policies/rbac.yaml
 * and gets that role, read again on every request (removing it from rbac.yaml ends its sessions). The CSRF token of
 * a session is derived from the session token, so it is never stored.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Role } from "../../contracts/decision.ts";
import { TauError } from "../../contracts/errors.ts";
import type { Services } from "../../capabilities/services.ts";
import type { Store } from "../../store/index.ts";

export const LOGIN_TTL_MS = 10 * 60_000;
export const SESSION_TTL_MS = 12 * 3600_000;
export const SESSION_COOKIE = "tau_ui";

export const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** The role rbac.yaml gives `principal` (admins, then operators), or null when it lists it nowhere. */
export function webRole(services: Pick<Services, "policies">, principal: string): Role | null {
  const rbac = services.policies.current()?.rbac;
  if (!rbac) return null;
  if (rbac.admins.includes(principal)) return "admin";
  if (rbac.operators.includes(principal)) return "operator";
  return null;
}

/** `http://<server.bind>` (or `server.public_url` when set): where the sign-in link points. */
export function uiBaseUrl(config: { server: { bind: string; public_url: string } }): string {
  return config.server.public_url ? config.server.public_url.replace(/\/+$/, "") : `http://${config.server.bind}`;
}

/** Record a one-time sign-in link for `principal` and return it; a usage error (exit 2) when rbac.yaml does not list it. */
export function issueLoginLink(
  services: Pick<Services, "policies" | "config">,
  store: Pick<Store, "ui">,
  principal: string,
  now: number,
): { url: string; principal: string; role: Role; expires_at_ms: number } {
  const role = webRole(services, principal);
  if (!role)
    throw new TauError("USAGE_PRINCIPAL_UNKNOWN", `--as ${principal}: not listed under admins or operators in policies/rbac.yaml`, {
      hint: `add "${principal}" (e.g. web:<name>) to admins: or operators: in policies/rbac.yaml, then run tau ui login again`,
    });
  if (!services.config.server.ui)
    throw new TauError("USAGE_UI_DISABLED", "the web control page is off (server.ui: false in tau.yaml)", {
      hint: "set server.ui: true in tau.yaml and restart tau run",
    });
  const token = randomBytes(24).toString("base64url");
  const expires_at_ms = now + LOGIN_TTL_MS;
  store.ui.addLoginToken({ token_hash: sha256(token), principal, now, expires_at_ms });
  return { url: `${uiBaseUrl(services.config)}/ui/login?token=${token}`, principal, role, expires_at_ms };
}

/** Spend a sign-in token and open a session: the session token for the cookie, or null (unknown, used or expired). */
export function openSession(
  store: Pick<Store, "ui" | "atomically">,
  token: string,
  now: number,
): { session: string; principal: string } | null {
  if (!/^[A-Za-z0-9_-]{16,64}$/.test(token)) return null;
  return store.atomically(() => {
    const principal = store.ui.useLoginToken(sha256(token), now);
    if (!principal) return null;
    const session = randomBytes(32).toString("base64url");
    store.ui.addSession({ session_hash: sha256(session), principal, now, expires_at_ms: now + SESSION_TTL_MS });
    return { session, principal };
  });
}

/** The per-session CSRF token: derived from the session token, so it is never stored. */
export const csrfFor = (session: string) => sha256(`csrf\u0000${session}`).slice(0, 40);

export function csrfOk(session: string, given: unknown): boolean {
  if (typeof given !== "string") return false;
  const want = Buffer.from(csrfFor(session));
  const got = Buffer.from(given);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** Failed sign-in attempts per minute before `/ui/login` answers 429 (the loopback page; a link is 192 random bits). */
export const LOGIN_ATTEMPTS_PER_MINUTE = 10;

/** A fixed-window counter of failed sign-ins. */
export function loginLimiter(limit = LOGIN_ATTEMPTS_PER_MINUTE) {
  let windowStart = 0;
  let failures = 0;
  return {
    blocked(now: number): boolean {
      if (now - windowStart >= 60_000 || now < windowStart) {
        windowStart = now;
        failures = 0;
      }
      return failures >= limit;
    },
    fail(): void {
      failures++;
    },
  };
}
