// Preload (scripts/bench-ingest-file.ts, test/ingress/ingest-stream.test.ts): print this process's peak resident set size at exit, on stderr.
process.on("exit", () => {
  process.stderr.write(`peak_rss_mb=${Math.round(process.resourceUsage().maxRSS / 1024)}\n`);
});
