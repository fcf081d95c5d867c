/**
 * Jobs cut off by a crash (the job runner's rule, src/commands/job-runner.ts): a capability with side effects is
 * committed `running` before it runs, so one found `running` after a restart is reported interrupted and never run
 * again; a read-only capability runs straight from `queued`, so one left `queued` is simply run after the restart —
 * once: its reply is written with its finish, and a second pass finds nothing to do.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createAppRunner, type App } from "../../src/app/index.ts";
import { replyTargetOf } from "../../src/contracts/reply-target.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

let home: TauHome | null = null;
let app: App | null = null;
afterEach(() => {
  app?.close();
  home?.cleanup();
  app = home = null;
});

function replies(a: App): { event_id: string | null; text: string }[] {
  return a.store.inspect.repliesAfter(0).map((o) => ({
    event_id: o.event_id,
    text: a.store.outbox
      .chunksOf(o.outbox_id)
      .map((c) => c.body)
      .join(""),
  }));
}

describe("jobs after a crash", () => {
  it("runs a read-only job left queued once, and reports a claimed job with side effects as interrupted without running it", async () => {
    home = makeTauHome();
    app = home.open(() => 1_763_712_000_000);
    const env = makeDm("4242", { event_id: "telegram:6112:u:77" });
    const target = JSON.stringify(replyTargetOf(env));
    const job = (id: string, capability: string, command: string) => ({
      job_id: id,
      event_id: env.event_id,
      capability_id: capability,
      command,
      args: "{}",
      principal: "telegram:4242",
      role: "admin",
      approval_id: null,
      reply_target: target,
    });
    // The state a crash leaves: whoami queued (read-only: it was never claimed), forget claimed and cut off mid-run.
    app.store.commands.queueJob(job("job_read", "tau.whoami", "whoami"), 1_763_712_000_000);
    app.store.commands.queueJob(job("job_write", "tau.forget", "forget"), 1_763_712_000_000);
    expect(app.store.commands.setJob("job_write", "queued", "running", 1_763_712_000_001)).toBe(true);

    const r = createAppRunner(app);
    await r.runner.drain();
    await r.runner.drain();
    r.close();

    const done = app.store.commands.jobsIn("done");
    const failed = app.store.commands.jobsIn("failed");
    expect(done.map((j) => j.job_id)).toEqual(["job_read"]);
    expect(failed.map((j) => j.job_id)).toEqual(["job_write"]);
    expect(JSON.parse(failed[0]!.result!)).toMatchObject({ reason_code: "command_interrupted" });
    expect(app.store.commands.jobsIn("queued")).toEqual([]);
    expect(app.store.commands.jobsIn("running")).toEqual([]);
    // One reply each, never two: whoami's answer names the caller; forget's says it was interrupted.
    const texts = replies(app).map((x) => x.text);
    expect(texts).toHaveLength(2);
    expect(texts.filter((t) => t.includes("telegram:4242"))).toHaveLength(1);
    expect(texts.filter((t) => /interrupted by a restart/.test(t))).toHaveLength(1);
    // Each finish left one audit record; the interrupted job's is a failure.
    expect(
      app.store.audit
        .recent(10)
        .map((a) => `${a.target}:${a.outcome}`)
        .sort(),
    ).toEqual(["tau.forget:failed", "tau.whoami:reported"]);
  });
});
