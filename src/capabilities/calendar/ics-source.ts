/**
 * @module Where a sync reads its ICS from: an https URL (plain http only for hosts the contract allows), or a file —
 * from chat and agents only under the contract's `sync.file_root`, from the local CLI anywhere the user can read.
 * Bounded by size and time. A source is known by a key derived from it (`src-…`), because feed URLs often carry a
 * private token: tau stores and writes into the calendar only the key and the URL's origin and path. A URL whose
 * path is itself the secret is declared in the contract (`sync.sources.<name>.url_secret`) and named in commands, so
 * it never appears in chat, the audit log or approvals.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { CalendarRuntime } from "./calendar-context.ts";
import { CalendarError } from "./calendar-error.ts";
import { syncFileRoot, type CalendarContract } from "./contract.ts";

export interface IcsSource {
  /** `src-` + 16 hex of the source's hash: the marker synced events carry. */
  key: string;
  /** The source for people: a URL without query or credentials, or a file path. */
  label: string;
  text: string;
  sha256: string;
}

const unreadable = (detail: string, cause?: unknown) =>
  new CalendarError("calendar_source_unreadable", detail, { cause, hint: "check the source: a readable .ics file or an https URL" });

const keyOf = (identity: string) => `src-${createHash("sha256").update(identity).digest("hex").slice(0, 16)}`;
const sha = (text: string) => createHash("sha256").update(text).digest("hex");

async function fromUrl(source: string, c: CalendarContract, fetchSource: CalendarRuntime["fetchSource"]): Promise<IcsSource> {
  let url: URL;
  try {
    url = new URL(source);
  } catch (err) {
    throw unreadable(`"${source.slice(0, 80)}" is not a URL`, err);
  }
  const label = `${url.origin}${url.pathname}`;
  if (url.username || url.password) throw unreadable(`${label}: put no credentials in the URL`);
  if (url.protocol === "http:" && !c.sync.allow_http_hosts.includes(url.hostname))
    throw unreadable(`${label}: only https sources (or hosts in sync.allow_http_hosts)`);
  if (url.protocol !== "https:" && url.protocol !== "http:") throw unreadable(`${label}: only https sources`);
  let got: { status: number; body: string };
  try {
    got = await fetchSource(url.href, { timeoutMs: c.caldav.timeout_ms, maxBytes: c.sync.max_source_bytes });
  } catch (err) {
    if (err instanceof CalendarError) throw err;
    const e = err as { name?: string; cause?: { code?: string } };
    throw unreadable(
      `${label}: ${e.name === "TimeoutError" ? `no answer within ${c.caldav.timeout_ms} ms` : (e.cause?.code ?? String(err))}`,
      err,
    );
  }
  if (got.status !== 200) throw unreadable(`${label}: HTTP ${got.status}`);
  return { key: keyOf(url.href), label, text: got.body, sha256: sha(got.body) };
}

function fromFile(source: string, c: CalendarContract, surface: "cli" | "chat" | "web"): IcsSource {
  const root = syncFileRoot(c);
  const file = path.resolve(root, source);
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch (err) {
    throw unreadable(`${file}: ${(err as NodeJS.ErrnoException).code ?? "cannot read"}`, err);
  }
  let realRoot = root;
  try {
    realRoot = fs.realpathSync(root);
  } catch {
    // No folder: nothing is inside it.
  }
  const inside = real === realRoot || real.startsWith(realRoot + path.sep);
  if (!inside && surface !== "cli") throw unreadable(`${source}: from chat, ICS files must be under ${root} (sync.file_root)`);
  const st = fs.statSync(real);
  if (!st.isFile()) throw unreadable(`${file}: not a file`);
  if (st.size > c.sync.max_source_bytes) throw unreadable(`${file}: ${st.size} bytes is over the limit of ${c.sync.max_source_bytes}`);
  const text = fs.readFileSync(real, "utf8");
  return { key: keyOf(`file:${real}`), label: inside ? path.relative(realRoot, real) : real, text, sha256: sha(text) };
}

/**
 * Read a sync source named by an operator: a source declared in the contract (`sync.sources`), an https URL, or a
 * file. `secret` looks up a declared source's `url_secret`.
 */
export async function readIcsSource(
  source: string,
  c: CalendarContract,
  surface: "cli" | "chat" | "web",
  fetchSource: CalendarRuntime["fetchSource"],
  secret: (id: string) => string | null,
): Promise<IcsSource> {
  const named = Object.hasOwn(c.sync.sources, source) ? c.sync.sources[source]! : null;
  if (named?.file) return { ...fromFile(named.file, c, "cli"), label: source };
  if (named?.url) return fromUrl(named.url, c, fetchSource);
  if (named?.url_secret) {
    const url = secret(named.url_secret);
    if (!url) throw unreadable(`source ${source}: the secret ${named.url_secret} is missing (tau secrets set ${named.url_secret})`);
    // The URL is a secret: the source is shown and audited by its name only.
    return {
      ...(await fromUrl(url, c, fetchSource).catch((err: unknown) => {
        throw err instanceof CalendarError
          ? unreadable(`source ${source}: ${err.message.replace(/https?:\/\/\S+/g, "(secret URL)")}`)
          : err;
      })),
      label: source,
    };
  }
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(source) ? fromUrl(source, c, fetchSource) : fromFile(source, c, surface);
}
