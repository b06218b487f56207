// /admit, /metrics and /-/healthy at scale, against the real exporter process, with its samples beside them.
//
//   npm run build && node bench/admit-scale.mjs --enis 50000 --reservations 1000 [--duration 60] [--schedule '*/30 * * * * *']
//
// The simulator (`glue-eni-exporter sim`) and the exporter (`serve`) run as two child processes; one /16
// subnet holds --enis Glue ENIs attached before any admission (so no reservation is ever covered) and non-Glue
// ENIs that leave room for exactly --reservations admissions of one worker above the buffer of 10. The bench
// makes those admissions first, so every /admit of the run decides against that many live reservations (and
// waits). While autocannon runs, /metrics and /-/healthy are fetched in turn every 500 ms and timed, and
// glue_eni_last_sample_timestamp_seconds tells when each sample completed: fewer than the schedule's ticks
// during the run (less one, the sample in flight at the end) is a missed sample. --data-dir keeps the
// exporter's data (the ledger) there and reuses it: a build too slow to make the admissions itself (GLUE_ENI_DIST) can be measured on a ledger made
// by another. Reservations live an hour.
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { dist, freePort } from './demo-child.mjs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    connections: { type: 'string', default: '10' },
    enis: { type: 'string', default: '50000' },
    reservations: { type: 'string', default: '1000' },
    schedule: { type: 'string', default: '*/30 * * * * *' },
    'data-dir': { type: 'string' },
    // Runs the exporter with --trace-gc (observation only) and reports each pause beside the slow seconds.
    'trace-gc': { type: 'boolean', default: false },
  },
});

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const children = [];
// Should the bench die on an error, its children must not outlive it (they hold ports and a core).
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});
// Extra node flags for the exporter's and simulator's processes (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
const nodeArgs = (process.env.GLUE_ENI_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
const cli = (args, env = process.env, flags = []) => {
  const c = spawn(process.execPath, [...nodeArgs, ...flags, join(dist, 'cli.js'), ...args], {
    stdio: ['ignore', flags.length > 0 ? 'pipe' : 'ignore', 'inherit'],
    env,
  });
  children.push(c);
  return c;
};

/**
 * --trace-gc lines of the exporter ("[pid:0x..]   12345 ms: Mark-Compact 380.1 (410.2) -> 350.3 (400.1) MB,
 * 85.3 / 0.0 ms ..."), stamped with the wall time they were read (the trace's own clock starts with the isolate).
 */
function gcTrace(stream) {
  const pauses = [];
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop();
    for (const l of lines) {
      const m =
        /ms: (Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Compact|Mark-Compact \(reduce\))[^,]*?([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ ([\d.]+) ms/.exec(
          l,
        );
      if (m) pauses.push({ at: Date.now() / 1000, kind: m[1], heapBeforeMb: Number(m[2]), heapAfterMb: Number(m[4]), ms: Number(m[6]) });
    }
  });
  return pauses;
}

function samplesOf(text, name) {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}
const sum = (lines) => lines.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
async function metric(name) {
  return sum(samplesOf(await (await fetch(`${base}/metrics`)).text(), name));
}

/**
 * The exporter's garbage collection so far, from prom-client's nodejs_gc_duration_seconds (no V8 flag needed):
 * pauses and their total time by kind, and the pauses of 10 ms or more / 100 ms or more (bucket bounds).
 */
async function gcFigures() {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out = { count: {}, seconds: {}, over10ms: 0, over100ms: 0 };
  for (const l of text.split('\n')) {
    const m = /^nodejs_gc_duration_seconds_(count|sum|bucket)\{(?:le="([^"]+)",)?kind="(\w+)"\} (\S+)$/.exec(l);
    if (!m) continue;
    const [, what, le, kind, v] = m;
    if (what === 'count') {
      out.count[kind] = Number(v);
      // The pauses of at least 10 / 100 ms: the count less those within the bucket bound.
      out.over10ms += Number(v);
      out.over100ms += Number(v);
    } else if (what === 'sum') out.seconds[kind] = Number(v);
    else if (le === '0.01') out.over10ms -= Number(v);
    else if (le === '0.1') out.over100ms -= Number(v);
  }
  return out;
}

/**
 * CPU seconds a child has used so far (user + system, from /proc: Linux only, else null): the simulator's share of
 * the cores, which a loaded machine does not change as it changes latencies. Clock ticks are 100 a second on Linux.
 */
function cpuSecondsOf(child) {
  try {
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

async function waitReady(seconds) {
  for (const t0 = Date.now(); ; ) {
    if (
      await fetch(`${base}/-/ready`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    if (Date.now() - t0 > seconds * 1000) throw new Error(`exporter not ready after ${seconds} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? null : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x) => (x === null ? null : Number(x.toFixed(1)));

/** A /16 with `enis` Glue ENIs and non-Glue ones leaving room for `room` addresses. */
function scaleWorld(dir, enis, room) {
  const usable = 65_536 - 5;
  const fill = usable - enis - room;
  if (fill < 0) throw new RangeError(`--enis ${enis} and --reservations leave no room in a /16`);
  const big = Math.floor(fill / 50);
  const others = [];
  if (big > 0) others.push(`  - {subnet: subnet-0c1, count: ${big}, addressesEach: 50, description: "bench fill"}`);
  if (fill % 50 > 0) others.push(`  - {subnet: subnet-0c1, count: ${fill % 50}, addressesEach: 1, description: "bench fill"}`);
  writeFileSync(
    join(dir, 'scenario.yml'),
    [
      'start: 2026-04-06T00:00:00Z',
      'seed: 7',
      'subnets:',
      '  - {id: subnet-0c1, name: big, cidr: 10.0.0.0/16, availabilityZone: us-east-1a}',
      'lifecycle: {lingerInUseMinutes: {min: 60, max: 70}, availableMinutes: {min: 30, max: 40}}',
      'otherEnis:',
      // Glue's description: the exporter counts these as Glue ENIs, attached at the scenario's start.
      `  - {subnet: subnet-0c1, count: ${enis}, addressesEach: 1, description: "Attached to Glue using role: bench"}`,
      ...others,
      '',
    ].join('\n'),
  );
}

try {
  const enis = Number(values.enis);
  const reservations = Number(values.reservations);
  // "*/<seconds> * * * * *" is checked for missed samples; any other schedule (e.g. "0 0 1 1 *", none during
  // the run) is only passed on: the run then times the requests without a sample beside them.
  const interval = Number(/^\*\/(\d+) \* \* \* \* \*$/.exec(values.schedule)?.[1] ?? Number.NaN);
  const dir = values['data-dir'] ? resolve(values['data-dir']) : mkdtempSync(join(tmpdir(), 'glue-eni-admit-scale-'));
  mkdirSync(join(dir, 'data'), { recursive: true });
  if (!existsSync(join(dir, 'scenario.yml'))) scaleWorld(dir, enis, reservations + 10);
  const simPort = await freePort();
  const simUrl = `http://127.0.0.1:${simPort}`;
  const sim = cli(['sim', '-s', join(dir, 'scenario.yml'), '--listen', `127.0.0.1:${simPort}`]);
  writeFileSync(
    join(dir, 'config.yml'),
    [
      'region: us-east-1',
      `endpoints: {ec2: "${simUrl}", glue: "${simUrl}"}`,
      'subnets: [{id: subnet-0c1, name: big}]',
      `sample: {schedule: "${values.schedule}", maxAgeSeconds: 600}`,
      'admission: {reservationTtlSeconds: 3600}',
      `dataDir: "${join(dir, 'data')}"`,
      'log: {level: warn}',
      '',
    ].join('\n'),
  );
  for (
    let i = 0;
    !(await fetch(simUrl).then(
      () => true,
      () => false,
    ));
    i++
  ) {
    if (i > 100) throw new Error('simulator not listening after 20 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  const exporter = cli(
    ['serve', '--config', join(dir, 'config.yml'), '--listen', `127.0.0.1:${port}`],
    {
      ...process.env,
      AWS_ACCESS_KEY_ID: 'bench',
      AWS_SECRET_ACCESS_KEY: 'bench',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    values['trace-gc'] ? ['--trace-gc'] : [],
  );
  const gcPauses = values['trace-gc'] ? gcTrace(exporter.stdout) : [];
  await waitReady(300);
  const url = `${base}/admit?subnet=big&workers=1&dag_run_id=bench`;
  // The live reservations: admissions of one worker until the subnet has no room left (a ledger kept in
  // --data-dir from an earlier run is reused as it is).
  const prefill = Date.now();
  for (let made = 0; made < reservations; ) {
    const batch = await Promise.all(Array.from({ length: 10 }, () => fetch(url).then((r) => r.json())));
    const granted = batch.filter((b) => b.admit === true).length;
    made += granted;
    if (granted === 0) break;
  }
  const prefillSeconds = (Date.now() - prefill) / 1000;
  const rssBefore = await metric('process_resident_memory_bytes');
  const reserved = await metric('glue_eni_reserved_ips');

  // /metrics and /-/healthy in turn every 500 ms while autocannon drives /admit.
  const timings = { metrics: [], healthy: [] };
  const sampleTimes = new Set();
  let polling = true;
  let fetchErrors = 0;
  // The exporter's own event-loop delay (prom-client resets its max at every scrape): what blocks every request.
  const loopLagMs = [];
  const timed = async (path, list) => {
    const t = performance.now();
    try {
      const text = await (await fetch(`${base}${path}`)).text();
      list.push(performance.now() - t);
      return text;
    } catch {
      // A connection the exporter reset (a keep-alive socket it closed while too busy to answer).
      fetchErrors++;
      return '';
    }
  };
  const poller = (async () => {
    while (polling) {
      const text = await timed('/metrics', timings.metrics);
      for (const l of samplesOf(text, 'glue_eni_last_sample_timestamp_seconds')) sampleTimes.add(Number(l.slice(l.lastIndexOf(' ') + 1)));
      for (const l of samplesOf(text, 'nodejs_eventloop_lag_max_seconds')) loopLagMs.push(1000 * Number(l.slice(l.lastIndexOf(' ') + 1)));
      await timed('/-/healthy', timings.healthy);
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  const cpuBefore = await metric('process_cpu_seconds_total');
  const gcBefore = await gcFigures();
  const simCpuBefore = cpuSecondsOf(sim);
  const started = Date.now() / 1000;
  // A timeout long enough to time the slowest decision rather than drop it.
  const run = autocannon({ url, connections: Number(values.connections), duration: Number(values.duration), timeout: 120 });
  // The slowest answer of each second of the run: lines the slow answers up with samples and GC pauses.
  const perSecondMax = new Map();
  let slowAnswers = 0;
  run.on('response', (_client, _status, _bytes, ms) => {
    const s = Math.floor(Date.now() / 1000);
    perSecondMax.set(s, Math.max(perSecondMax.get(s) ?? 0, ms));
    if (ms >= 10) slowAnswers++;
  });
  const result = await run;
  const ended = Date.now() / 1000;
  const simCpuAfter = cpuSecondsOf(sim);
  const gcAfter = await gcFigures();
  polling = false;
  await poller;
  const rssAfter = await metric('process_resident_memory_bytes');
  const cpu = (await metric('process_cpu_seconds_total')) - cpuBefore;
  // Samples completed from the run's start to its end: the schedule's ticks in that time, less the one a
  // sample in flight at the end may still be working on.
  const times = [...sampleTimes].filter((t) => t >= started && t <= ended).sort((a, b) => a - b);
  const ticks = Number.isFinite(interval) ? Math.floor(ended / interval) - Math.floor(started / interval) : 0;
  const gaps = [started, ...times, ended].slice(1).map((t, i, a) => t - (i === 0 ? started : a[i - 1]));
  const sampleSeconds = await metric('glue_eni_sample_duration_seconds');
  const heapUsed = await metric('nodejs_heap_size_used_bytes');
  const gcDelta = (what) =>
    Object.fromEntries(
      Object.keys(gcAfter[what]).map((k) => [k, round((what === 'seconds' ? 1000 : 1) * (gcAfter[what][k] - (gcBefore[what][k] ?? 0)))]),
    );
  // Seconds of the run whose slowest answer took 10 ms or more, with what the exporter did then.
  const runPauses = gcPauses.filter((p) => p.at >= started && p.at <= ended + 1);
  const slowSeconds = [...perSecondMax]
    .filter(([, ms]) => ms >= 10)
    .map(([s, ms]) => ({
      second: Math.round(s - started),
      admit_max_ms: ms,
      gc_ms: values['trace-gc'] ? runPauses.filter((p) => p.at >= s && p.at < s + 1.05).map((p) => `${p.kind} ${p.ms}`) : undefined,
      sample_stamped: times.some((t) => t >= s - 1 && t < s + 1) || undefined,
    }));
  console.log(
    JSON.stringify(
      {
        enis,
        live_reservations: reserved,
        connections: Number(values.connections),
        duration_seconds: Number(values.duration),
        prefill_seconds: prefillSeconds,
        requests: result.requests.total,
        non_2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        throughput_rps: Math.round(result.requests.average),
        admit_latency_p50_ms: result.latency.p50,
        admit_latency_p99_ms: result.latency.p99,
        admit_latency_max_ms: result.latency.max,
        // The exporter's CPU over the run (its samples included) per /admit answered: less sensitive to the
        // machine's other load than latency.
        exporter_cpu_ms_per_admit: round((cpu * 1000) / Math.max(1, result.requests.total)),
        exporter_cpu_seconds_during_run: round(cpu),
        simulator_cpu_seconds_during_run: simCpuBefore === null || simCpuAfter === null ? null : round(simCpuAfter - simCpuBefore),
        metrics_ms_median: round(median(timings.metrics)),
        metrics_ms_max: round(Math.max(...timings.metrics)),
        healthy_ms_median: round(median(timings.healthy)),
        healthy_ms_max: round(Math.max(...timings.healthy)),
        metrics_and_healthy_fetch_errors: fetchErrors,
        eventloop_delay_max_ms: round(Math.max(0, ...loopLagMs.filter(Number.isFinite))),
        sample_interval_seconds: Number.isFinite(interval) ? interval : null,
        last_sample_duration_seconds: round(sampleSeconds),
        schedule_ticks_during_run: ticks,
        samples_completed_during_run: times.length,
        sample_gap_max_seconds: round(Math.max(...gaps)),
        samples_missed: Math.max(0, ticks - 1 - times.length),
        rss_mb_before: Math.round(rssBefore / 2 ** 20),
        rss_mb_after: Math.round(rssAfter / 2 ** 20),
        heap_used_mb_after: Math.round(heapUsed / 2 ** 20),
        // prom-client's GC histogram over the run: pauses by kind, their total time, and the long ones.
        gc_pauses_during_run: gcDelta('count'),
        gc_ms_during_run: gcDelta('seconds'),
        gc_pauses_10ms_or_more: gcAfter.over10ms - gcBefore.over10ms,
        gc_pauses_100ms_or_more: gcAfter.over100ms - gcBefore.over100ms,
        ...(values['trace-gc']
          ? {
              gc_pause_max_ms: Math.max(0, ...runPauses.map((p) => p.ms)),
              gc_mark_compact_pause_ms: runPauses.filter((p) => p.kind.startsWith('Mark')).map((p) => p.ms),
              gc_heap_max_mb: Math.max(0, ...runPauses.map((p) => p.heapBeforeMb)),
            }
          : {}),
        admit_answers_10ms_or_more: slowAnswers,
        admit_seconds_with_answer_10ms_or_more: slowSeconds.length,
        slow_seconds: slowSeconds,
      },
      null,
      2,
    ),
  );
  if (!values['data-dir']) rmSync(dir, { recursive: true, force: true });
} finally {
  for (const c of children.reverse()) {
    if (c.exitCode === null) {
      c.kill('SIGTERM');
      await once(c, 'exit');
    }
  }
}
