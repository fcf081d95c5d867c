/**
 * @module The one capability registry: lookup by id (CLI) and by the longest matching chat alias (chat).
 */
import { TauError } from "../contracts/errors.ts";
import type { Capability } from "./capability.ts";

// Capabilities of every argument type live in one registry; `run` is called with schema-parsed args.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCapability = Capability<any>;

export class CapabilityRegistry {
  private readonly byId = new Map<string, AnyCapability>();

  register(...caps: AnyCapability[]): this {
    for (const c of caps) {
      if (this.byId.get(c.id) === c) continue; // registering the same capability again is a no-op
      if (this.byId.has(c.id)) throw new TauError("CAPABILITY_DUPLICATE", `capability ${c.id} registered twice`);
      const clash = [...this.byId.values()].find((o) => o.alias.join(" ") === c.alias.join(" "));
      if (clash) throw new TauError("CAPABILITY_ALIAS_CLASH", `chat alias "${c.alias.join(" ")}" used by ${clash.id} and ${c.id}`);
      this.byId.set(c.id, c);
    }
    return this;
  }

  get(id: string): AnyCapability | undefined {
    return this.byId.get(id);
  }

  list(): AnyCapability[] {
    return [...this.byId.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The capability whose alias is the longest prefix of `words` (case-insensitive), and the remaining words. */
  match(words: readonly string[]): { capability: AnyCapability; rest: string[] } | null {
    const lower = words.map((w) => w.toLowerCase());
    let best: AnyCapability | null = null;
    for (const c of this.byId.values()) {
      if (c.alias.length > lower.length) continue;
      if (!c.alias.every((a, i) => a === lower[i])) continue;
      if (!best || c.alias.length > best.alias.length) best = c;
    }
    return best ? { capability: best, rest: words.slice(best.alias.length) } : null;
  }
}
