// Scale benchmarks of the sampling and exposition path, through the AWS simulator and the real SDK clients:
//   sample  — one sample of 10,000 ENIs in 50 subnets: AWS requests, CPU time and RSS of the exporter process
//   render  — /metrics render time at 100 subnets (registry.metrics() and GET /metrics): median and p95
//   series  — exposition samples at (10 subnets, 100 ENIs), (10, 5,000) and (100, 5,000): subnets, never ENIs
//
//   npm run build && node --expose-gc bench/scale.mjs [--only sample|render|series] [--runs 5] [--renders 200]
//
// Runs against the built output (dist/, or GLUE_ENI_DIST: a build elsewhere, e.g.
// `npx tsc -p tsconfig.json --outDir /tmp/b/dist`, with package.json copied to /tmp/b and node_modules linked there).
// The simulator runs in a child process (this file with --sim), so the CPU time and RSS measured here are the
// exporter's alone. --expose-gc adds the figures after a full collection.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    sim: { type: 'boolean', default: false },
    subnets: { type: 'string', default: '50' },
    enis: { type: 'string', default: '10000' },
    jobs: { type: 'string', default: '0' },
    only: { type: 'string' },
    runs: { type: 'string', default: '5' },
    renders: { type: 'string', default: '200' },
  },
});
const dist = resolve(process.env.GLUE_ENI_DIST ?? fileURLToPath(new URL('../dist', import.meta.url)));
const load = (p) => import(pathToFileURL(join(dist, p)).href);

/** Subnet ids and /23 CIDRs (507 usable addresses each) for a world of `n` subnets. */
const subnetId = (i) => `subnet-0b${i.toString(16).padStart(4, '0')}`;

/** A world of `subnets` /23 subnets holding `enis` non-Glue ENIs spread evenly, and `jobs` Glue jobs (no runs). */
function scenario(subnets, enis, jobs) {
  if (enis % subnets !== 0) throw new RangeError(`--enis must be a multiple of --subnets (${enis} / ${subnets})`);
  const each = enis / subnets;
  const s = Array.from({ length: subnets }, (_, i) => ({
    id: subnetId(i),
    cidr: `10.${Math.floor(i / 128)}.${(i % 128) * 2}.0/23`,
    availabilityZone: 'us-east-1a',
  }));
  return {
    start: '2026-04-06T06:00:00Z',
    seed: 7,
    subnets: s,
    connections: Array.from({ length: jobs }, (_, i) => ({ name: `conn-${i}`, subnet: s[i % subnets].id })),
    jobs: Array.from({ length: jobs }, (_, i) => ({ name: `job-${i}`, connection: `conn-${i}`, workers: 10, durationMinutes: { min: 30, max: 30 } })),
    lifecycle: { lingerInUseMinutes: { min: 60, max: 70 }, availableMinutes: { min: 30, max: 40 } },
    otherEnis: each > 0 ? s.map((x) => ({ subnet: x.id, count: each })) : [],
  };
}

if (values.sim) {
  // Child: serve the world until stdin closes.
  const { startSimulator, parseScenario } = await load('sim/index.js');
  const sim = await startSimulator({
    scenario: parseScenario(scenario(Number(values.subnets), Number(values.enis), Number(values.jobs))),
    speed: 0,
  });
  process.stdout.write(`${JSON.stringify({ url: sim.url, enis: sim.world.networkInterfaces().length })}\n`);
  process.stdin.resume();
  await once(process.stdin, 'end');
  await sim.close();
  process.exit(0);
}

process.env.AWS_ACCESS_KEY_ID ??= 'AKIDEXAMPLE';
process.env.AWS_SECRET_ACCESS_KEY ??= 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const { parseConfig } = await load('config/load.js');
const rssAtLoad = process.memoryUsage().rss;
const { silentLogger } = await load('log.js');
const { startExporter } = await load('server.js');
// The AWS SDK clients are most of this: what a sample starts from.
const rssExporterLoaded = process.memoryUsage().rss;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const round = (x, d = 1) => Number(x.toFixed(d));
const mb = (bytes) => round(bytes / 2 ** 20);

/** A simulator child for the given world, and an exporter (this process) watching all its subnets. */
async function withWorld({ subnets, enis, jobs }, fn) {
  const child = spawn(
    process.execPath,
    [fileURLToPath(import.meta.url), '--sim', '--subnets', String(subnets), '--enis', String(enis), '--jobs', String(jobs)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: process.env,
    },
  );
  const lines = createInterface({ input: child.stdout });
  const [first] = await once(lines, 'line');
  const { url } = JSON.parse(first);
  const dataDir = await mkdtemp(join(tmpdir(), 'glue-eni-scale-'));
  const config = parseConfig(
    {
      region: 'us-east-1',
      endpoints: { ec2: url, glue: url },
      subnets: Array.from({ length: subnets }, (_, i) => ({ id: subnetId(i) })),
      // Samples are taken by hand; the schedule must not add any during the measurement.
      sample: { schedule: '0 0 1 1 *', maxAgeSeconds: 86_400 },
      dataDir,
    },
    {},
  );
  const exporter = await startExporter({ config, listen: '127.0.0.1:0', logger: silentLogger });
  try {
    if (!(await exporter.firstSample)) throw new Error('first sample failed');
    return await fn(exporter);
  } finally {
    await exporter.close();
    child.stdin.end();
    await once(child, 'exit');
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Parse an exposition into { name, labels-string, value } lines (comments skipped). */
function samplesOf(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (m) out.push({ name: m[1], labels: m[2] ?? '', value: Number(m[3]) });
  }
  return out;
}

async function awsRequests(exporter) {
  const text = await (await fetch(`${exporter.url}/metrics`)).text();
  const by = {};
  for (const s of samplesOf(text)) {
    if (s.name !== 'glue_eni_aws_requests_total') continue;
    by[/api="([^"]+)"/.exec(s.labels)[1]] = s.value;
  }
  return by;
}

async function benchSample(runs) {
  const world = { subnets: 50, enis: 10_000, jobs: 5 };
  return withWorld(world, async (exporter) => {
    const cpu = [];
    const wall = [];
    let perSample;
    for (let i = 0; i < runs; i++) {
      const before = await awsRequests(exporter);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      if (!(await exporter.sampler.sampleOnce())) throw new Error('sample failed');
      const t1 = performance.now();
      const c = process.cpuUsage(c0);
      const after = await awsRequests(exporter);
      const delta = Object.fromEntries(
        Object.entries(after)
          .map(([k, v]) => [k, v - (before[k] ?? 0)])
          .filter(([, v]) => v > 0),
      );
      if (perSample && JSON.stringify(perSample) !== JSON.stringify(delta))
        throw new Error(`requests differ between samples: ${JSON.stringify({ perSample, delta })}`);
      perSample = delta;
      cpu.push((c.user + c.system) / 1000);
      wall.push(t1 - t0);
    }
    const snap = exporter.cache.current();
    const mem = process.memoryUsage();
    // With --expose-gc: what stays once the garbage of the parse is collected (V8 keeps freed pages a while).
    globalThis.gc?.();
    const memGc = globalThis.gc ? process.memoryUsage() : undefined;
    return {
      world,
      enis_in_snapshot: snap.subnets.reduce((n, s) => n + s.totalEnis, 0),
      samples: runs,
      aws_requests_per_sample: perSample,
      aws_requests_per_sample_total: Object.values(perSample).reduce((a, b) => a + b, 0),
      cpu_ms_median: round(median(cpu)),
      cpu_ms_max: round(Math.max(...cpu)),
      wall_ms_median: round(median(wall)),
      rss_mb_modules_loaded: mb(rssAtLoad),
      rss_mb_exporter_loaded: mb(rssExporterLoaded),
      rss_mb_after_sampling: mb(mem.rss),
      rss_mb_after_gc: memGc && mb(memGc.rss),
      heap_used_mb_after_gc: memGc && mb(memGc.heapUsed),
      heap_used_mb: mb(mem.heapUsed),
      heap_total_mb: mb(mem.heapTotal),
      external_mb: mb(mem.external),
    };
  });
}

async function benchRender(renders) {
  const world = { subnets: 100, enis: 10_000, jobs: 100 };
  return withWorld(world, async (exporter) => {
    // A recorded window in every subnet, as a day of /admit calls leaves it.
    for (let i = 0; i < 100; i++) {
      for (let k = 0; k < 5; k++) await exporter.admission.admit({ subnet: subnetId(i), workers: 10, dagRunId: `run-${k}` });
    }
    const { registry } = exporter.metrics;
    const text = await registry.metrics();
    for (let i = 0; i < 20; i++) await registry.metrics();
    const direct = [];
    for (let i = 0; i < renders; i++) {
      const t0 = performance.now();
      await registry.metrics();
      direct.push(performance.now() - t0);
    }
    const http = [];
    for (let i = 0; i < renders; i++) {
      const t0 = performance.now();
      const res = await fetch(`${exporter.url}/metrics`);
      await res.text();
      http.push(performance.now() - t0);
    }
    const samples = samplesOf(text);
    return {
      world,
      renders,
      exposition_bytes: text.length,
      exposition_samples: samples.length,
      glue_eni_samples: samples.filter((s) => s.name.startsWith('glue_eni_')).length,
      registry_metrics_ms_median: round(median(direct), 2),
      registry_metrics_ms_p95: round(pct(direct, 95), 2),
      http_get_metrics_ms_median: round(median(http), 2),
      http_get_metrics_ms_p95: round(pct(http, 95), 2),
    };
  });
}

async function benchSeries() {
  const worlds = [
    { subnets: 10, enis: 100, jobs: 10 },
    { subnets: 10, enis: 5_000, jobs: 10 },
    { subnets: 100, enis: 5_000, jobs: 10 },
  ];
  const rows = [];
  for (const w of worlds) {
    rows.push(
      await withWorld(w, async (exporter) => {
        const samples = samplesOf(await (await fetch(`${exporter.url}/metrics`)).text());
        const own = samples.filter((s) => s.name.startsWith('glue_eni_'));
        const byName = {};
        for (const s of own) byName[s.name] = (byName[s.name] ?? 0) + 1;
        return { ...w, glue_eni_samples: own.length, all_samples: samples.length, by_metric: byName };
      }),
    );
  }
  const [a, b, c] = rows;
  return {
    rows: rows.map(({ by_metric, ...r }) => r),
    equal_at_10_subnets: a.glue_eni_samples === b.glue_eni_samples && JSON.stringify(a.by_metric) === JSON.stringify(b.by_metric),
    per_subnet: round((c.glue_eni_samples - b.glue_eni_samples) / 90, 2),
    by_metric_10_subnets: a.by_metric,
  };
}

const only = values.only;
const out = { node: process.version, machine: '2 cores, shared' };
if (!only || only === 'sample') out.sample = await benchSample(Number(values.runs));
if (!only || only === 'render') out.render = await benchRender(Number(values.renders));
if (!only || only === 'series') out.series = await benchSeries();
console.log(JSON.stringify(out, null, 2));
if (out.series && !out.series.equal_at_10_subnets) {
  console.error('series count changed with the ENI count');
  process.exitCode = 1;
}
