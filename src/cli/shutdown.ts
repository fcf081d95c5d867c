/** @module Process lifecycle for long-running commands: wait for SIGTERM/SIGINT, and a hard cap on shutdown. */

/** Resolves with the signal name at the first SIGTERM or SIGINT. */
export function waitForStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off("SIGTERM", on);
      process.off("SIGINT", on);
      resolve(sig);
    };
    process.on("SIGTERM", on);
    process.on("SIGINT", on);
  });
}

/**
 * Exit with `code` if shutdown has not finished within `ms` (a stuck socket or provider call must not keep
 * a stopping service alive). The timer is unref'd: a clean shutdown exits before it fires.
 */
export function armHardExit(ms: number, onFire: () => void, code = 0): NodeJS.Timeout {
  const timer = setTimeout(() => {
    onFire();
    process.exit(code);
  }, ms);
  timer.unref();
  return timer;
}

/** Upper bound for draining and closing after SIGTERM/SIGINT. */
export const SHUTDOWN_HARD_CAP_MS = 10_000;
