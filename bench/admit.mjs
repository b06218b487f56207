// /admit throughput and latency against the real exporter process, AWS requests counted from its own metrics.
//
//   npm run build && node bench/admit.mjs [--duration 10] [--connections 10] [--workers 1] [--keys N]
//
// The exporter runs as `glue-eni-exporter demo` in a child process (the simulator stands in for AWS and the
// exporter samples it every 5 s through the real SDK clients); autocannon drives /admit from this process, so
// the load generator does not share the exporter's event loop. Every /admit records an observation in the
// embedded file store (group-committed with fdatasync) before it answers. AWS requests are read from
// glue_eni_aws_requests_total before and after: they follow the sample schedule, not the /admit count.
// --keys N spreads the pokes over N dag_run_ids (bench-0 … bench-N-1): with workers that do not fit, each is a
// sensor that waits and holds a ticket in the subnet's queue, re-poked as fast as the connections go.
import autocannon from 'autocannon';
import { parseArgs } from 'node:util';
import { startDemoChild } from './demo-child.mjs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    workers: { type: 'string', default: '1' },
    keys: { type: 'string' },
  },
});
const { base, child, metric, waitOk, exited } = await startDemoChild({ logLevel: 'warn', stdio: ['ignore', 'ignore', 'inherit'] });

try {
  await waitOk('/-/ready');
  const url = `${base}/admit?subnet=shared&workers=${values.workers}&dag_run_id=bench`;
  const keys = values.keys === undefined ? undefined : Number(values.keys);
  let n = 0;
  const spread =
    keys === undefined
      ? {}
      : {
          requests: [{ setupRequest: (req) => ({ ...req, path: `/admit?subnet=shared&workers=${values.workers}&dag_run_id=bench-${n++ % keys}` }) }],
        };
  // Warm-up: JIT and the file store's first appends.
  await autocannon({ url, connections: Number(values.connections), duration: 2, ...spread });
  const awsBefore = await metric('glue_eni_aws_requests_total');
  const decisionsBefore = await metric('glue_eni_admission_decisions_total');
  const cpuBefore = await metric('process_cpu_seconds_total');
  const result = await autocannon({ url, connections: Number(values.connections), duration: Number(values.duration), ...spread });
  const queueLength = await metric('glue_eni_queue_length');
  const awsDuring = (await metric('glue_eni_aws_requests_total')) - awsBefore;
  const decisions = (await metric('glue_eni_admission_decisions_total')) - decisionsBefore;
  // The exporter's own CPU per answer (samples included): what a loaded machine changes least.
  const cpuSeconds = (await metric('process_cpu_seconds_total')) - cpuBefore;
  console.log(
    JSON.stringify(
      {
        connections: Number(values.connections),
        duration_seconds: Number(values.duration),
        requests: result.requests.total,
        non_2xx: result.non2xx,
        errors: result.errors,
        throughput_rps: Math.round(result.requests.average),
        latency_p50_ms: result.latency.p50,
        latency_p99_ms: result.latency.p99,
        latency_max_ms: result.latency.max,
        decisions_recorded: decisions,
        exporter_cpu_ms_per_admit: Number(((cpuSeconds * 1000) / Math.max(1, decisions)).toFixed(3)),
        ...(keys === undefined ? {} : { keys, queue_length_after: queueLength }),
        aws_requests_during_run: awsDuring,
        samples_during_run_expected: Math.round(Number(values.duration) / 5),
      },
      null,
      2,
    ),
  );
} finally {
  child.kill('SIGTERM');
  await exited;
}
