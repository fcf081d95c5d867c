/**
 * @module Store family: shared control (table `control_documents`, migration 014) — documents every node sharing the
 * store must run the same version of: the validated policy set (`policies`) and the known-good snapshot of every
 * configuration file (`config_lkg`). Each publish bumps the document's `generation`; nodes poll it (one indexed read)
 * and apply a newer one. Ids and times come from callers (the Clock).
 */
import type { Db } from "./db.ts";

/** A stored control document: its files (name → text), their hash, the generation, and who published it when. */
export interface ControlDocument {
  name: string;
  generation: number;
  sha256: string;
  documents: Record<string, string>;
  set_by: string;
  trigger: string;
  set_at_ms: number;
}

interface ControlRow {
  name: string;
  generation: number | string;
  sha256: string;
  documents: string;
  set_by: string;
  trigger: string;
  set_at_ms: number | string;
}

export function createControlStore(db: Db) {
  const q = {
    generation: db.prepare<[string], number | string>("SELECT generation FROM control_documents WHERE name = ?").pluck(),
    get: db.prepare<[string], ControlRow>(
      "SELECT name, generation, sha256, documents, set_by, trigger, set_at_ms FROM control_documents WHERE name = ?",
    ),
    // One statement on both engines: the first publish inserts generation 1, each later one adds one.
    publish: db
      .prepare<[string, string, string, string, string, number], number | string>(
        "INSERT INTO control_documents (name, generation, sha256, documents, set_by, trigger, set_at_ms) VALUES (?, 1, ?, ?, ?, ?, ?) " +
          "ON CONFLICT(name) DO UPDATE SET generation = control_documents.generation + 1, sha256 = excluded.sha256, " +
          "documents = excluded.documents, set_by = excluded.set_by, trigger = excluded.trigger, set_at_ms = excluded.set_at_ms " +
          "RETURNING generation",
      )
      .pluck(),
  };
  return {
    /** The generation of document `name` (0 when never published): what every node polls. */
    generation: (name: string): number => Number(q.generation.get(name) ?? 0),
    /** Document `name` as last published, or null. */
    get(name: string): ControlDocument | null {
      const r = q.get.get(name);
      if (!r) return null;
      return {
        name: r.name,
        generation: Number(r.generation),
        sha256: r.sha256,
        documents: JSON.parse(r.documents) as Record<string, string>,
        set_by: r.set_by,
        trigger: r.trigger,
        set_at_ms: Number(r.set_at_ms),
      };
    },
    /** Publish a new version of document `name`; returns its generation. */
    publish(name: string, doc: Omit<ControlDocument, "name" | "generation">): number {
      return Number(q.publish.get(name, doc.sha256, JSON.stringify(doc.documents), doc.set_by, doc.trigger, doc.set_at_ms));
    },
  };
}

export type ControlStore = ReturnType<typeof createControlStore>;
