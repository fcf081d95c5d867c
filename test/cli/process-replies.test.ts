/**
 * `tau process --once --json` counts the replies it actually sent (issue 13 §4): a `/tau` command's reply is written
 * by its job after the decision commits, outside the cycle's pipeline count, and used to be reported as
 * `replies: 0` next to `delivered: 1`.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";
import { runTau } from "../helpers/run-tau.ts";

let home: TauHome | null = null;
afterEach(() => {
  home?.cleanup();
  home = null;
});
const g = (h: TauHome) => ["--state-dir", h.stateDir, "--config", h.configPath];

interface Summary {
  processed: number;
  replies: number;
  delivered: number;
}

describe("tau process --once --json: replies", () => {
  it("counts a command's reply (written by its job) and a plain reply, as the dry-run outbox shows them sent", async () => {
    home = makeTauHome();
    const ingest = (file: string) => runTau([...g(home!), "ingest", file, "--transport", "telegram"]);
    expect((await ingest("fixtures/raw/telegram/command-ours.json")).code).toBe(0);
    const command = await runTau([...g(home), "process", "--once", "--json"]);
    expect(command.code).toBe(0);
    expect(command.json<Summary>()).toMatchObject({ processed: 1, replies: 1, delivered: 1 });

    expect((await ingest("fixtures/raw/telegram/private-text.json")).code).toBe(0);
    expect((await ingest("fixtures/raw/telegram/command-ours.json")).code).toBe(0); // a duplicate: no second reply
    const both = await runTau([...g(home), "process", "--once", "--json"]);
    expect(both.json<Summary>()).toMatchObject({ processed: 1, replies: 1, delivered: 1 });

    const sent = fs
      .readFileSync(path.join(home.stateDir, "outbox", "dry-run.ndjson"), "utf8")
      .split("\n")
      .filter((l) => l.length > 0);
    expect(sent).toHaveLength(2);
  }, 60_000);
});
