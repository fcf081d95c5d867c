/** @module The clock: milliseconds since the epoch, injected everywhere so tests and replays are deterministic. */

/** A clock in ms. `Date.now()` is read only where the composition root picks the system clock. */
export type Clock = () => number;
