/**
 * @module Reload policies on SIGHUP or when a file in policies/ changes (debounced). A rejected reload keeps the
 * last known good policy, is audited and shows in health (`policy_reload_rejected`). With a store shared by several
 * nodes, sets the others publish are applied as well.
 */
import fs from "node:fs";
import type { Services } from "../capabilities/services.ts";
import type { App } from "../app/index.ts";
import { watchPolicyGeneration } from "../config/policy-manager.ts";

/** Start watching; returns a function that stops it. */
export function watchPolicies(app: App, services: Services): () => void {
  let timer: NodeJS.Timeout | null = null;
  const reload = (why: string) => {
    const before = services.policies.status().active_sha256;
    const st = services.policies.reload(why);
    if (st.state === "ok" && st.active_sha256 === before) return;
    services.audit({
      actor: "system",
      surface: "system",
      action: "policy.reload",
      target: app.loaded.policiesDir,
      args: { trigger: why, sha256: st.active_sha256 },
      outcome: st.state,
      reason_code: st.state === "ok" ? "policy_reloaded" : "policy_reload_rejected",
    });
    app.store.runner.insertRuntimeEvent(
      app.clock(),
      "policy.reload",
      st.state === "ok" ? "healthy" : "degraded",
      [st.state === "ok" ? "policy_reloaded" : "policy_reload_rejected"],
      { trigger: why, error: st.error },
    );
    app.logger[st.state === "ok" ? "info" : "warn"](
      { event: "policy.reload", trigger: why, state: st.state, error: st.error },
      "policy reload",
    );
  };
  const onHup = () => reload("sighup");
  process.on("SIGHUP", onHup);
  // Nodes sharing a store: a set another node published is applied here too (a no-op for a store of its own).
  const stopSync = watchPolicyGeneration(services.policies, (o) =>
    app.logger[o.status.state === "ok" ? "info" : "warn"](
      { event: "policy.synced", generation: o.generation, set_by: o.set_by, trigger: o.trigger, state: o.status.state },
      "policies published by a node applied",
    ),
  );
  let watcher: fs.FSWatcher | null = null;
  try {
    watcher = fs.watch(app.loaded.policiesDir, () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => reload("file_change"), 200);
    });
  } catch {
    watcher = null; // no policies folder: defaults apply, SIGHUP still works
  }
  return () => {
    stopSync();
    process.off("SIGHUP", onHup);
    watcher?.close();
    if (timer) clearTimeout(timer);
  };
}
