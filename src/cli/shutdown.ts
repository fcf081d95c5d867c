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

/**
 * Process-wide stop-signal guard, installed once by the CLI entry (runCli) before any command runs, so every command
 * stops on SIGTERM/SIGINT whatever launched it (systemd, a container's init, npm, a shell):
 * - a command that handles the signal itself (`run`, `process`, `connectors run`, `events --follow`) gets a bounded
 *   graceful stop: if it has not exited `capMs` after the first signal, the process exits (a provider call stuck in
 *   its timeout must not keep a stopping service alive and sending);
 * - a command that does not handle it, or a second signal after the command's own handler has fired, ends the
 *   process with the signal's default action, exactly as if the guard were not there.
 * Returns the function that removes the guard (tests).
 */
export function guardStopSignals(opts: { capMs?: number; warn?: (line: string) => void } = {}): () => void {
  const capMs = opts.capMs ?? SHUTDOWN_HARD_CAP_MS;
  const warn = opts.warn ?? ((line: string) => process.stderr.write(line));
  let armed = false;
  const remove = () => {
    process.off("SIGTERM", on);
    process.off("SIGINT", on);
  };
  function on(sig: NodeJS.Signals): void {
    // Listeners run in registration order: this one first, so the command's own (once) listener is still counted.
    if (process.listenerCount(sig) > 1 && !armed) {
      armed = true;
      armHardExit(capMs, () => warn(`tau: still stopping ${capMs} ms after ${sig}; exiting\n`), 1);
      return;
    }
    if (process.listenerCount(sig) > 1) return;
    // Nobody else handles it: the default action (terminate by this signal), as without the guard.
    remove();
    process.kill(process.pid, sig);
  }
  process.on("SIGTERM", on);
  process.on("SIGINT", on);
  return remove;
}
