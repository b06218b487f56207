// /admit throughput and latency on the embedded file store, observations and group commit included.
//   npm run build && node bench/admit.mjs [--duration 10] [--connections 10]
// Runs against the built output (dist/, or GLUE_ENI_DIST). Counts every outgoing HTTP request made by the
// process during the run (the AWS SDK's only way out): /admit must make none.
import autocannon from 'autocannon';
import diagnostics from 'node:diagnostics_channel';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
  },
});
const dist = resolve(process.env.GLUE_ENI_DIST ?? new URL('../dist', import.meta.url).pathname);
const load = (p) => import(pathToFileURL(join(dist, p)).href);

const { default: express } = await import('express');
const { snapshotOf, subnetView } = await load('admission/fixtures.js');
const { AdmissionService } = await load('admission/service.js');
const { parseConfig } = await load('config/load.js');
const { createAdmitRouter } = await load('http/admit.js');
const { silentLogger } = await load('log.js');
const { SnapshotCache } = await load('snapshot/cache.js');
const { FileStore } = await load('store/file.js');

let outgoing = 0;
diagnostics.subscribe('http.client.request.start', () => outgoing++);
diagnostics.subscribe('undici:request:create', () => outgoing++);

const dir = await mkdtemp(join(tmpdir(), 'glue-eni-bench-'));
const clock = { now: () => Date.now() };
const subnetId = 'subnet-0a1b2c';
const config = parseConfig({ subnets: [{ id: subnetId, name: 'critical' }], dataDir: dir }, {});
const store = await FileStore.open({ dataDir: dir, clock, logger: silentLogger });
const cache = new SnapshotCache();
// A fresh snapshot that never goes stale during the run: 30 in-use, 5 available in a /26, so every call waits
// (an admit would reserve and soon make every answer a wait anyway); each call still records an observation.
const fresh = () => cache.set(snapshotOf([subnetView({ subnetId, name: 'critical', inUse: 30, available: 5, lingering: 2 })]));
fresh();
const refresher = setInterval(fresh, 1000);
const service = new AdmissionService({ cache, config, store, clock, logger: silentLogger });
const app = express();
app.use(createAdmitRouter({ cache, config, service, logger: silentLogger }));
const server = await new Promise((r) => {
  const s = app.listen(0, '127.0.0.1', () => r(s));
});
const url = `http://127.0.0.1:${server.address().port}/admit?subnet=critical&workers=10&dag_run_id=bench`;

const before = outgoing;
const commitsBefore = store.commits;
const result = await autocannon({ url, connections: Number(values.connections), duration: Number(values.duration) });
const aws = outgoing - before;
const commits = store.commits - commitsBefore;

clearInterval(refresher);
await new Promise((r) => server.close(r));
await store.close();
await rm(dir, { recursive: true, force: true });

const ok = result['2xx'];
console.log(
  JSON.stringify(
    {
      url: url.replace(/:\d+\//, ':PORT/'),
      connections: Number(values.connections),
      duration_seconds: Number(values.duration),
      requests: result.requests.total,
      non_2xx: result.non2xx,
      errors: result.errors,
      throughput_rps: Math.round(result.requests.average),
      latency_p50_ms: result.latency.p50,
      latency_p99_ms: result.latency.p99,
      latency_max_ms: result.latency.max,
      observations_written: ok,
      group_commits: commits,
      records_per_commit: commits ? Number((ok / commits).toFixed(1)) : 0,
      aws_requests_during_run: aws,
    },
    null,
    2,
  ),
);
if (aws !== 0) {
  console.error(`unexpected: ${aws} outgoing requests during the /admit run`);
  process.exitCode = 1;
}
