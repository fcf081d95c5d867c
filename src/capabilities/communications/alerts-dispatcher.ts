/**
 * @module `communications.alerts.dispatcher.status|start|stop` (`/tau alerts dispatcher …`): show and control the
 * watchdog's alert dispatcher in the running service. Control is a persisted switch the watchdog reads on every
 * evaluation, so it works from any shell or chat; start and stop need the operator role, stop asks for confirmation,
 * and both leave an audit record. A stopped dispatcher keeps judging and posts what is owed once started again.
 */
import { z } from "zod";
import { commandHint, defineCapability, reported, type CapabilityContext } from "../capability.ts";
import { DISPATCHER_KEY, readDispatcherControl, readWatchdogHeartbeat, type DispatcherControl } from "../../health/watchdog-state.ts";

/** The watchdog counts as running when it evaluated within three intervals. */
function dispatcherView(ctx: CapabilityContext) {
  const kv = ctx.services.store.kv;
  const control = readDispatcherControl(kv);
  const hb = readWatchdogHeartbeat(kv);
  const alive = hb !== null && ctx.now - hb.last_tick_at_ms <= 3 * hb.interval_ms;
  return {
    dispatcher: control?.state ?? "running",
    control,
    watchdog: hb ? { ...hb, alive } : null,
    firing: ctx.services.store.alerts.states().filter((s) => s.firing),
    undelivered: ctx.services.store.alerts.undelivered(20),
    recent: ctx.services.store.alerts.recent(10),
  };
}

export const dispatcherStatusCapability = defineCapability({
  id: "communications.alerts.dispatcher.status",
  alias: ["alerts", "dispatcher", "status"],
  summary: "the watchdog's alert dispatcher: running or stopped, last check, alerts firing and not yet delivered",
  args: z.object({}).strict(),
  role: "viewer",
  sideEffect: "read",
  approval: "none",
  run: (_args, ctx) => {
    const v = dispatcherView(ctx);
    const code = !v.watchdog?.alive ? "dispatcher_not_running" : v.dispatcher === "stopped" ? "dispatcher_stopped" : "dispatcher_running";
    const lines = [
      `Dispatcher ${v.dispatcher}${v.control ? ` (by ${v.control.changed_by}${v.control.reason ? `: ${v.control.reason}` : ""})` : ""}; watchdog ${
        v.watchdog
          ? `${v.watchdog.alive ? "running" : "silent"}, last check ${new Date(v.watchdog.last_tick_at_ms).toISOString()}, health ${v.watchdog.health}, ops chats ${v.watchdog.targets.join(", ") || "none"}`
          : "has not run (tau run starts it)"
      }.`,
      v.firing.length ? `Firing: ${v.firing.map((f) => `${f.severity} ${f.alert_key}`).join(", ")}.` : "Nothing firing.",
      v.undelivered.length
        ? `Not delivered yet: ${v.undelivered.map((u) => `${u.outbox_id} (${u.reason ?? u.status})`).join(", ")}.`
        : "Every alert delivered.",
    ];
    return reported(code, lines.join("\n"), v);
  },
});

function setDispatcher(ctx: CapabilityContext, state: DispatcherControl["state"], reason: string) {
  const s = ctx.services;
  const before = readDispatcherControl(s.store.kv)?.state ?? "running";
  const control: DispatcherControl = { state, changed_by: ctx.principal, reason, at_ms: ctx.now };
  s.store.atomically(() => {
    s.store.kv.put(DISPATCHER_KEY, JSON.stringify(control));
    s.audit({
      actor: ctx.principal,
      surface: ctx.surface,
      action: `alerts.dispatcher.${state === "running" ? "start" : "stop"}`,
      target: "alerts.dispatcher",
      args: { reason, was: before },
      outcome: state,
      reason_code: state === "running" ? "dispatcher_started" : "dispatcher_stopped",
    });
  });
  return { before, control };
}

export const dispatcherStartCapability = defineCapability({
  id: "communications.alerts.dispatcher.start",
  alias: ["alerts", "dispatcher", "start"],
  summary: "resume posting alerts to the ops chats (what is owed goes out at the next check)",
  args: z.object({ reason: z.string().max(200).default("") }).strict(),
  positional: ["reason"],
  role: "operator",
  sideEffect: "write",
  approval: "none",
  run: (args, ctx) => {
    const { before } = setDispatcher(ctx, "running", args.reason);
    return reported("dispatcher_started", `Alert dispatcher running${before === "running" ? " (it was already)" : ""}.`, {
      dispatcher: "running",
      was: before,
    });
  },
});

export const dispatcherStopCapability = defineCapability({
  id: "communications.alerts.dispatcher.stop",
  alias: ["alerts", "dispatcher", "stop"],
  summary: "stop posting alerts to the ops chats (health is still judged; needs a reason)",
  args: z.object({ reason: z.string().min(1, "say why alerts stop").max(200) }).strict(),
  positional: ["reason"],
  role: "operator",
  sideEffect: "write",
  approval: "confirm",
  run: (args, ctx) => {
    const { before } = setDispatcher(ctx, "stopped", args.reason);
    return reported(
      "dispatcher_stopped",
      `Alert dispatcher stopped: ${args.reason}. Health is still judged; run ${commandHint(ctx, "communications.alerts.dispatcher.start")} to resume.`,
      { dispatcher: "stopped", was: before },
    );
  },
});
