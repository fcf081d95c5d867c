/**
 * @module `tau ui login --as <principal> [--json]`: a one-time sign-in link for the web control page (`/ui` on
 * `server.bind`), valid 10 minutes, for a principal listed under admins or operators in policies/rbac.yaml
 * (`web:<name>` or an existing actor key; it gets that role). Only the link's sha256 is stored; the link itself is
 * printed once, here.
 */
import type { Command } from "commander";
import { issueLoginLink } from "../app/web/auth.ts";
import { globals } from "./context.ts";
import { servicesFor } from "./services-for.ts";
import { emit } from "./output.ts";

export function registerUi(program: Command): void {
  const ui = program.command("ui").description("the web control page (/ui): sign-in links");
  ui.command("login")
    .description("print a one-time sign-in link (10 minutes) for a principal listed in policies/rbac.yaml")
    .requiredOption("--as <principal>", "who signs in, e.g. web:alice (listed under admins or operators in policies/rbac.yaml)")
    .option("--json", "one JSON object: {url, principal, role, expires_at}")
    .action((o: { as: string }, cmd: Command) => {
      const { app, services } = servicesFor(cmd);
      try {
        const link = issueLoginLink(services, app.store, o.as, app.clock());
        const expires_at = new Date(link.expires_at_ms).toISOString();
        emit(
          globals(cmd).json,
          { url: link.url, principal: link.principal, role: link.role, expires_at },
          () => `${link.url}\n(one-time link for ${link.principal} (${link.role}); expires ${expires_at}; do not share it)`,
        );
      } finally {
        app.close();
      }
    });
}
