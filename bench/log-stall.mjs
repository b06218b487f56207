// Memory and latency of the real exporter while its stdout is a pipe nobody reads, under a flood of logged requests.
//
//   npm run build && node bench/log-stall.mjs [--duration 10] [--connections 10]
//
// The exporter runs as `glue-eni-exporter demo --log-level debug` in a child process whose stdout is a pipe this
// process stops reading once the exporter answers: every request logs a line (~370 bytes with the long path used
// here) that has nowhere to go. autocannon drives the flood; then the bench reads the exporter's resident memory
// and glue_eni_log_lines_dropped_total from /metrics, times 50 sequential /-/healthy requests, and times the exit
// after SIGTERM (given up after 20 s: the process is then killed and the exit reported as null). --read keeps
// reading stdout: the control, for what the flood costs without a stalled log.
import autocannon from 'autocannon';
import { parseArgs } from 'node:util';
import { startDemoChild } from './demo-child.mjs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    // The control: keep reading stdout, so that only the flood itself costs memory.
    read: { type: 'boolean', default: false },
  },
});
const { base, child, metric, waitOk, exited } = await startDemoChild({ logLevel: 'debug', stdio: ['ignore', 'pipe', 'ignore'] });
child.stdout.on('data', () => {});

const mib = (b) => Math.round((b / 2 ** 20) * 10) / 10;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  await waitOk('/-/healthy');
  if (!values.read) child.stdout.pause();
  const rssBefore = await metric('process_resident_memory_bytes');

  const result = await autocannon({
    url: `${base}/${'p'.repeat(240)}`,
    connections: Number(values.connections),
    duration: Number(values.duration),
  });

  const latencies = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    const r = await fetch(`${base}/-/healthy`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
    latencies.push(r?.ok ? performance.now() - t0 : Infinity);
  }
  const rssAfter = await metric('process_resident_memory_bytes');
  const dropped = await metric('glue_eni_log_lines_dropped_total');

  const t0 = performance.now();
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code, signal] = await exited;
  clearTimeout(killer);
  const exitMs = performance.now() - t0;

  console.log(
    JSON.stringify(
      {
        stdout: values.read ? 'read' : 'stalled',
        requests: result.requests.total,
        logged_mib: mib(result.requests.total * 370),
        rss_before_mib: mib(rssBefore),
        rss_after_mib: mib(rssAfter),
        rss_growth_mib: mib(rssAfter - rssBefore),
        log_lines_dropped_total: dropped,
        healthy_median_ms: Math.round(median(latencies) * 10) / 10,
        healthy_max_ms: Math.round(Math.max(...latencies) * 10) / 10,
        sigterm_exit: { code, signal, ms: Math.round(exitMs) },
      },
      null,
      2,
    ),
  );
} finally {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
