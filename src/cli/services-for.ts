/** @module Open the app and its services (capability registry, policies, audit) for a CLI command. */
import type { Command } from "commander";
import { createServices, type App } from "../app/index.ts";
import type { Services } from "../capabilities/services.ts";
import { appFor } from "./context.ts";

/** Open the app and its services (registry, policies, audit) for a command. Close with `app.close()`. */
export function servicesFor(cmd: Command): { app: App; services: Services } {
  const app = appFor(cmd);
  try {
    return { app, services: createServices(app) };
  } catch (err) {
    app.close();
    throw err;
  }
}
