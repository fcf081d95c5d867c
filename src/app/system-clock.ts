/** @module The system clock, for CLI commands that need the time without opening the app (`tau logs --since`). */
import type { Clock } from "../contracts/clock.ts";

/** Milliseconds since the epoch from the operating system. */
export const systemClock: Clock = () => Date.now();
