/** @module Test helper: run the real `tau` CLI as a child process and capture output and exit code. */
import { spawn } from "node:child_process";
import path from "node:path";

export interface TauRun {
  code: number;
  stdout: string;
  stderr: string;
  json<T = unknown>(): T;
}

const BIN = path.resolve("bin/tau.js");

export function runTau(args: string[], opts: { cwd?: string; env?: Record<string, string>; input?: string } = {}): Promise<TauRun> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, TAU_LOG_LEVEL: "silent", ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.on("error", reject);
    c.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr, json: <T>() => JSON.parse(stdout) as T }));
    c.stdin.end(opts.input ?? "");
  });
}
