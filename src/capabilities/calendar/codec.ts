/**
 * @module ical.js loads on first use, like every SDK adapter: capabilities reach the codec through the session
 * (`s.codec`), so a tau that never touches calendars never parses ical.js.
 */
export type Codec = typeof import("./ical-codec.ts");

let loaded: Codec | null = null;

/** The ical.js adapter, imported once. */
export async function loadCodec(): Promise<Codec> {
  loaded ??= await import("./ical-codec.ts");
  return loaded;
}
