/**
 * @module The watchdog's persisted state, readable from any process: whether the alert dispatcher is running or was
 * stopped (`communications.alerts.dispatcher.start|stop`), and the watchdog's heartbeat (last evaluation, its verdict,
 * the ops chats it posts to). `tau run` writes both; `tau status`, `/tau alerts dispatcher status` read them.
 */

/** kv key: `{"state":"running"|"stopped","changed_by":…,"reason":…,"at_ms":…}`; absent = running. */
export const DISPATCHER_KEY = "alerts_dispatcher";
/** kv key: the watchdog's heartbeat. */
export const WATCHDOG_KEY = "watchdog_state";
/** kv key: the last health state the watchdog recorded (health history is written on each change). */
export const LAST_HEALTH_KEY = "watchdog_last_health";

export interface DispatcherControl {
  state: "running" | "stopped";
  changed_by: string;
  reason: string;
  at_ms: number;
}

export interface WatchdogHeartbeat {
  pid: number;
  started_at_ms: number;
  last_tick_at_ms: number;
  ticks: number;
  interval_ms: number;
  health: string;
  reason_codes: string[];
  /** Where alerts go: `<transport>:<conversation_id>` per ops chat. */
  targets: string[];
  last_error: string | null;
}

interface KvRead {
  get(key: string): string | undefined;
}

function parse<T>(raw: string | undefined): T | null {
  if (!raw) return null;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return null;
  }
}

export function readDispatcherControl(kv: KvRead): DispatcherControl | null {
  return parse<DispatcherControl>(kv.get(DISPATCHER_KEY));
}

export function readWatchdogHeartbeat(kv: KvRead): WatchdogHeartbeat | null {
  return parse<WatchdogHeartbeat>(kv.get(WATCHDOG_KEY));
}
