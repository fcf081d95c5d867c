/**
 * @module `tau export --since … [--until …] [--view …] [--out DIR]`: NDJSON views of state for a time window —
 * runtime events, route traces, deliveries (outbox rows, no message bodies), the audit log, incidents (with their
 * action logs) and the watchdog's alerts. To stdout (one object per line, tagged with its `view`) or, with `--out`,
 * one `<view>.ndjson` file per view (folder 0700, files 0600) plus their sha256. Reads state only.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Option, type Command } from "commander";
import type { App } from "../app/index.ts";
import { TauError } from "../contracts/errors.ts";
import { globals } from "./context.ts";
import { emit } from "./output.ts";
import { withReadOnlyApp } from "./read-only.ts";
import { emitRows, outputFormat } from "./options.ts";
import { resolveWhen, WHEN_HELP, whenOption, type When } from "./time-range.ts";

const json = (text: string | null) => (text === null ? null : (JSON.parse(text) as unknown));

/** Each view: its rows in [from, to), oldest first. */
const VIEWS: Record<string, (app: App, from: number, to: number) => unknown[]> = {
  events: (app, from, to) =>
    app.store.inspect.runtimeEventsBetween(from, to).map((e) => ({ ...e, reason_codes: json(e.reason_codes), detail: json(e.detail) })),
  traces: (app, from, to) =>
    app.store.inspect.tracesBetween(from, to).map((t) => ({ ...t, decisions: json(t.decisions), route: json(t.route) })),
  deliveries: (app, from, to) => app.store.inspect.deliveriesBetween(from, to),
  audit: (app, from, to) => app.store.audit.between(from, to).map((a) => ({ ...a, args: json(a.args) })),
  incidents: (app, from, to) =>
    app.store.incidents.between(from, to).map((i) => ({
      ...i,
      log: app.store.incidents.logOf(i.incident_id).map((l) => ({ ...l, detail: json(l.detail) })),
    })),
  alerts: (app, from, to) => app.store.alerts.between(from, to).map((a) => ({ ...a, outbox_ids: json(a.outbox_ids) })),
};

export function registerExport(program: Command): void {
  program
    .command("export")
    .description(`NDJSON views for a time window: ${Object.keys(VIEWS).join(", ")} (stdout, or one file per view with --out)`)
    .requiredOption("--since <when>", `start: ${WHEN_HELP}`, whenOption)
    .addOption(
      new Option("--until <when>", "end (exclusive), same forms as --since").argParser(whenOption).default({ kind: "now" } as When, "now"),
    )
    .option("--view <names>", `comma-separated views (default all: ${Object.keys(VIEWS).join(",")})`)
    .option("--out <dir>", "write <view>.ndjson files into this folder")
    .option("--ndjson", "to stdout: one row per line, tagged with its view (the default without --out)")
    .option("--json", "to stdout: one JSON array of those rows; with --out: the summary as a JSON object")
    .action((o: { since: When; until: When; view?: string; out?: string; ndjson?: boolean }, cmd: Command) => {
      const format = outputFormat({ json: globals(cmd).json, ndjson: o.ndjson });
      return withReadOnlyApp(cmd, (app) => {
        const now = app.clock();
        const from = resolveWhen(o.since, now);
        const to = resolveWhen(o.until, now);
        if (to <= from) throw new TauError("USAGE_TIME", `--until must be after --since (${new Date(from).toISOString()})`);
        const names = o.view ? o.view.split(",").map((v) => v.trim()) : Object.keys(VIEWS);
        const unknown = names.filter((n) => !VIEWS[n]);
        if (unknown.length)
          throw new TauError("USAGE_VIEW", `unknown view ${unknown.join(", ")}`, { hint: `views: ${Object.keys(VIEWS).join(", ")}` });
        if (!o.out) {
          const rows = names.flatMap((n) => VIEWS[n]!(app, from, to).map((row) => ({ view: n, ...(row as object) })));
          emitRows(format === "json" ? "json" : "ndjson", rows, () => "");
          return;
        }
        const dir = path.resolve(o.out);
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const files: Record<string, { path: string; lines: number; sha256: string }> = {};
        for (const n of names) {
          const rows = VIEWS[n]!(app, from, to);
          const text = rows.map((r) => JSON.stringify(r) + "\n").join("");
          const file = path.join(dir, `${n}.ndjson`);
          fs.writeFileSync(file, text, { mode: 0o600 });
          files[n] = { path: file, lines: rows.length, sha256: createHash("sha256").update(text).digest("hex") };
        }
        emit(globals(cmd).json, { dir, since_ms: from, until_ms: to, files }, () =>
          Object.entries(files)
            .map(([n, f]) => `${n}: ${f.lines} lines → ${f.path}`)
            .join("\n"),
        );
      });
    });
}
