// Many targets from one exporter: 20 accounts × 3 regions × 5 subnets (60 targets, 300 subnets) through the AWS
// simulator, each account reached by STS AssumeRole as `targets` configure it.
//
//   npm run build && node bench/targets-scale.mjs [--accounts 20] [--regions 3] [--subnets 5] [--runs 3]
//                                                [--concurrency 1,4,16] [--renders 50] [--latency-ms 0]
//
// Per `sample.concurrency`: the wall time of one full sample of every target (sampler.sampleOnce(), after a first
// sample that also assumed the roles), the AWS requests it made (counted by the simulator, per world and action),
// the /metrics render time (GET, and registry.metrics() in process) and the exporter's RSS. Each concurrency runs
// in its own exporter process (this file with --exporter), so that RSS is its own; the simulator runs in another
// (--sim). First, the same world's one (account, region) in the single-account form gives the requests one target
// needs per sample: every target of the full run must make exactly those (the floor), so the total is
// targets × that. --latency-ms delays every simulated AWS answer (a network round trip): with none, the
// simulator and the exporter share the machine's cores and a sample is CPU-bound. Runs against dist/ (or
// GLUE_ENI_DIST).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    sim: { type: 'boolean', default: false },
    exporter: { type: 'boolean', default: false },
    single: { type: 'boolean', default: false },
    'sim-url': { type: 'string' },
    'sim-pid': { type: 'string' },
    accounts: { type: 'string', default: '20' },
    regions: { type: 'string', default: '3' },
    subnets: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,4,16' },
    renders: { type: 'string', default: '50' },
    'latency-ms': { type: 'string', default: '0' },
  },
});
const dist = resolve(process.env.GLUE_ENI_DIST ?? fileURLToPath(new URL('../dist', import.meta.url)));
const load = (p) => import(pathToFileURL(join(dist, p)).href);
const self = fileURLToPath(import.meta.url);

const ACCOUNTS = Number(values.accounts);
const REGIONS = ['eu-west-1', 'us-east-1', 'ap-southeast-2', 'eu-central-1', 'us-west-2'].slice(0, Number(values.regions));
const SUBNETS = Number(values.subnets);
const ROLE = 'glue-eni-exporter';
const account = (a) => String(100000000001 + a);
/** Unique across every world: account, region and subnet in the hex. */
const subnetId = (a, r, s) => `subnet-0${a.toString(16).padStart(2, '0')}${r.toString(16)}${s.toString(16).padStart(2, '0')}`;

/** One world: SUBNETS /24s, a Glue connection and a job per subnet, 40 non-Glue ENIs per subnet, a run under way. */
function world(a, r) {
  const region = REGIONS[r];
  const subnets = Array.from({ length: SUBNETS }, (_, s) => ({
    id: subnetId(a, r, s),
    name: `a${String(a + 1).padStart(2, '0')}-${region}-s${s + 1}`,
    cidr: `10.${(a * 8 + r) % 256}.${s}.0/24`,
    availabilityZone: `${region}a`,
  }));
  return {
    subnets,
    connections: subnets.map((s, i) => ({ name: `conn-${i + 1}`, subnet: s.id })),
    // Every 10 minutes for 30-40 minutes: a few runs under way and their ENIs at any time.
    jobs: subnets.map((_, i) => ({
      name: `job-${i + 1}`,
      connection: `conn-${i + 1}`,
      workers: 5,
      schedule: '*/10 * * * *',
      durationMinutes: { min: 30, max: 40 },
    })),
    otherEnis: subnets.map((s) => ({ subnet: s.id, count: 40 })),
  };
}

function scenario() {
  return {
    start: '2026-04-06T06:00:00Z',
    seed: 11,
    // Keys not issued by AssumeRole act in the first account: the single-account form reads its first region.
    account: account(0),
    region: REGIONS[0],
    lifecycle: { lingerInUseMinutes: { min: 0, max: 30 }, availableMinutes: { min: 10, max: 20 } },
    faults: { throttleRate: 0, serverErrorRate: 0, latencyMs: Number(values['latency-ms']) },
    accounts: Array.from({ length: ACCOUNTS }, (_, a) => ({
      id: account(a),
      roles: [{ name: ROLE }],
      regions: Object.fromEntries(REGIONS.map((region, r) => [region, world(a, r)])),
    })),
  };
}

if (values.sim) {
  // Child: serve the worlds (frozen at 07:30, runs under way) until stdin closes.
  const { startSimulator, parseScenario } = await load('sim/index.js');
  const sim = await startSimulator({ scenario: parseScenario(scenario()), speed: 0, startAt: '2026-04-06T07:30:00Z' });
  const enis = [...sim.worlds.values()].reduce((n, w) => n + w.networkInterfaces().length, 0);
  process.stdout.write(`${JSON.stringify({ url: sim.url, worlds: sim.worlds.size, enis })}\n`);
  process.stdin.resume();
  await once(process.stdin, 'end');
  await sim.close();
  process.exit(0);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x, d = 1) => Number(x.toFixed(d));
const mb = (bytes) => round(bytes / 2 ** 20);

/** The simulator's request counts: by world key (`sts` for STS) and action. */
async function simCounts(url) {
  const state = await (await fetch(`${url}/_sim/state`)).json();
  return state.requests;
}

/** after − before, by world and action, leaving out what did not change. */
function delta(before, after) {
  const out = {};
  for (const [key, byAction] of Object.entries(after)) {
    for (const [action, n] of Object.entries(byAction)) {
      const d = n - (before[key]?.[action] ?? 0);
      if (d > 0) (out[key] ??= {})[action] = d;
    }
  }
  return out;
}

/** CPU time (user + system) of another process, from /proc (Linux), in ms. */
function simCpuMs(pid) {
  if (!pid) return Number.NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of the line (11 and 12 after the command), in clock ticks (100 a second).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const sum = (byAction) => Object.values(byAction ?? {}).reduce((a, b) => a + b, 0);

if (values.exporter) {
  // Child: one exporter (in this process) against the simulator; prints its figures as one JSON line.
  process.env.AWS_ACCESS_KEY_ID ??= 'AKIDBENCHHUB';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'bench/secret/not-a-real-key';
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  process.env.AWS_REGION = REGIONS[0];
  const url = values['sim-url'];
  const { parseConfig } = await load('config/load.js');
  const { silentLogger } = await load('log.js');
  const { startExporter } = await load('server.js');
  const dataDir = await mkdtemp(join(tmpdir(), 'glue-eni-targets-'));
  // Samples are taken by hand; the schedule must not add any during the measurement.
  const sample = { schedule: '0 0 1 1 *', maxAgeSeconds: 86_400 };
  const raw = values.single
    ? {
        region: REGIONS[0],
        endpoints: { ec2: url, glue: url },
        subnets: world(0, 0).subnets.map((s) => ({ id: s.id, name: s.name })),
        sample,
        dataDir,
      }
    : {
        endpoints: { ec2: url, glue: url, sts: url },
        sample: { ...sample, concurrency: Number(values.concurrency) },
        targets: Array.from({ length: ACCOUNTS }, (_, a) => ({
          account: account(a),
          roleArn: `arn:aws:iam::${account(a)}:role/${ROLE}`,
          regions: REGIONS,
          subnets: REGIONS.flatMap((region, r) => world(a, r).subnets.map((s) => ({ id: s.id, name: s.name, region }))),
        })),
        dataDir,
      };
  const config = parseConfig(raw, {});
  // Before the start: the first sample begins inside startExporter().
  const c0 = await simCounts(url);
  const exporter = await startExporter({ config, listen: '127.0.0.1:0', logger: silentLogger });
  try {
    const firstOk = await exporter.firstSample;
    const c1 = await simCounts(url);
    const wall = [];
    const cpu = [];
    const simCpu = [];
    const perSample = [];
    const failed = [];
    for (let i = 0; i < Number(values.runs); i++) {
      const before = await simCounts(url);
      const s0 = simCpuMs(values['sim-pid']);
      const c = process.cpuUsage();
      const t0 = performance.now();
      const ok = await exporter.sampler.sampleOnce();
      wall.push(performance.now() - t0);
      const used = process.cpuUsage(c);
      cpu.push((used.user + used.system) / 1000);
      simCpu.push(simCpuMs(values['sim-pid']) - s0);
      if (!ok) failed.push(i);
      perSample.push(delta(before, await simCounts(url)));
    }
    // Targets whose last sample failed (the cache's per-target state, where the build has it).
    const targets = typeof exporter.cache.targets === 'function' ? exporter.cache.targets() : undefined;
    const snap = exporter.cache.current();
    const renders = Number(values.renders);
    const http = [];
    const direct = [];
    let text = '';
    for (let i = 0; i < renders; i++) {
      const t0 = performance.now();
      text = await (await fetch(`${exporter.url}/metrics`)).text();
      http.push(performance.now() - t0);
    }
    for (let i = 0; i < renders; i++) {
      const t0 = performance.now();
      await exporter.metrics.registry.metrics();
      direct.push(performance.now() - t0);
    }
    const mem = process.memoryUsage();
    const last = perSample[perSample.length - 1];
    process.stdout.write(
      `${JSON.stringify({
        form: values.single ? 'single-account' : 'targets',
        concurrency: values.single ? undefined : Number(values.concurrency),
        first_sample_ok: firstOk,
        first_sample_requests: delta(c0, c1),
        failed_samples: failed,
        failed_targets: targets?.filter((t) => t.failure).map((t) => `${t.key}: ${t.failure}`),
        subnets_in_snapshot: snap.subnets.length,
        enis_in_snapshot: snap.subnets.reduce((n, s) => n + s.totalEnis, 0),
        wall_ms: wall.map((x) => round(x)),
        cpu_ms: cpu.map((x) => round(x)),
        sim_cpu_ms: simCpu.map((x) => round(x)),
        requests_per_sample: last,
        requests_per_sample_stable: perSample.every((p) => JSON.stringify(p) === JSON.stringify(last)),
        exposition_bytes: text.length,
        exposition_lines: text.split('\n').filter((l) => l && !l.startsWith('#')).length,
        get_metrics_ms_median: round(median(http), 2),
        registry_metrics_ms_median: round(median(direct), 2),
        rss_mb: mb(mem.rss),
        heap_used_mb: mb(mem.heapUsed),
      })}\n`,
    );
  } finally {
    await exporter.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  process.exit(0);
}

// ---- The orchestrator ----

function child(args, stdin = 'ignore') {
  const c = spawn(process.execPath, [self, ...args], { stdio: [stdin, 'pipe', 'inherit'], env: process.env });
  const lines = createInterface({ input: c.stdout });
  return { proc: c, firstLine: once(lines, 'line').then(([l]) => JSON.parse(l)) };
}

const shape = ['--accounts', values.accounts, '--regions', values.regions, '--subnets', values.subnets, '--latency-ms', values['latency-ms']];
const sim = child(['--sim', ...shape], 'pipe');
const simInfo = await sim.firstLine;
process.on('exit', () => sim.proc.exitCode === null && sim.proc.kill('SIGKILL'));
const common = [...shape, '--sim-url', simInfo.url, '--sim-pid', String(sim.proc.pid), '--runs', values.runs, '--renders', values.renders];

async function runExporter(args) {
  const c = child(['--exporter', ...common, ...args]);
  const [result] = await Promise.all([c.firstLine, once(c.proc, 'exit')]);
  return result;
}

const out = {
  shape: {
    accounts: ACCOUNTS,
    regions: REGIONS,
    subnets_per_target: SUBNETS,
    targets: ACCOUNTS * REGIONS.length,
    worlds: simInfo.worlds,
    enis: simInfo.enis,
  },
  machine: { cpus: cpus().length, loadavg_at_start: loadavg().map((x) => round(x, 2)) },
};
const single = await runExporter(['--single']);
const perTarget = single.requests_per_sample[`${account(0)}/${REGIONS[0]}`] ?? {};
out.single_target = {
  requests_per_sample: perTarget,
  total: sum(perTarget),
  wall_ms: single.wall_ms,
  cpu_ms: single.cpu_ms,
  sim_cpu_ms: single.sim_cpu_ms,
};
out.by_concurrency = [];
for (const c of values.concurrency.split(',').map(Number)) {
  const loadBefore = loadavg()[0];
  const r = await runExporter(['--concurrency', String(c)]);
  const worlds = Object.entries(r.requests_per_sample ?? {}).filter(([k]) => k !== 'sts');
  // The floor: every target made exactly what the single target made, and nothing else was asked.
  const atFloor =
    worlds.length === ACCOUNTS * REGIONS.length && worlds.every(([, byAction]) => JSON.stringify(byAction) === JSON.stringify(perTarget));
  const total = worlds.reduce((n, [, byAction]) => n + sum(byAction), 0);
  out.by_concurrency.push({
    concurrency: c,
    loadavg_1m_before: round(loadBefore, 2),
    wall_ms: r.wall_ms,
    wall_ms_median: round(median(r.wall_ms)),
    exporter_cpu_ms: r.cpu_ms,
    exporter_cpu_ms_median: round(median(r.cpu_ms)),
    sim_cpu_ms: r.sim_cpu_ms,
    sim_cpu_ms_median: round(median(r.sim_cpu_ms)),
    requests_per_sample_total: total,
    requests_per_sample_expected: ACCOUNTS * REGIONS.length * sum(perTarget),
    every_target_at_floor: atFloor,
    requests_per_sample_stable: r.requests_per_sample_stable,
    sts_requests_per_sample: sum(r.requests_per_sample?.sts),
    first_sample_assume_role: r.first_sample_requests?.sts?.AssumeRole ?? 0,
    first_sample_requests_total: Object.entries(r.first_sample_requests ?? {}).reduce((n, [, byAction]) => n + sum(byAction), 0),
    first_sample_ok: r.first_sample_ok,
    failed_samples: r.failed_samples,
    failed_targets: r.failed_targets,
    subnets_in_snapshot: r.subnets_in_snapshot,
    enis_in_snapshot: r.enis_in_snapshot,
    exposition_lines: r.exposition_lines,
    exposition_bytes: r.exposition_bytes,
    get_metrics_ms_median: r.get_metrics_ms_median,
    registry_metrics_ms_median: r.registry_metrics_ms_median,
    rss_mb: r.rss_mb,
    heap_used_mb: r.heap_used_mb,
  });
}
out.machine.loadavg_at_end = loadavg().map((x) => round(x, 2));
sim.proc.stdin.end();
await once(sim.proc, 'exit');
console.log(JSON.stringify(out, null, 2));
