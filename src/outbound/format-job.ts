/** @module Attach a chunk's platform rendering (`rich`) and delivery action to a job, from its row's `outbox.rich`. */
import type { ChunkJob } from "../contracts/outbound.ts";
import { parseRich, renderChunk } from "./format.ts";

/** A chunk job as read from the outbox, with its row's `rich` column not yet rendered. */
export type RenderableJob = ChunkJob & { rich_column?: string | null };

/** The job a sender gets: plain jobs unchanged, structured ones with `rich` / `action` set. */
export function withRendering(job: RenderableJob): ChunkJob {
  const { rich_column, ...plain } = job;
  if (!rich_column) return plain;
  const r = renderChunk(plain.target.transport, parseRich(rich_column), plain.idx, plain.chunk_count, plain.text);
  return { ...plain, ...r };
}
