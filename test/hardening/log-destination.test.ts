// A log destination that fails or stalls never stops the real binary from serving. stdout is a file at its
// `ulimit -f` size (every further write fails with EFBIG), or a pipe whose reader stopped reading: the exporter
// logs at debug level, one line per request, under a flood of requests; /-/healthy and /metrics stay quick, the
// lost lines are counted in glue_eni_log_lines_dropped_total and noticed on stderr, and SIGTERM still exits 0.
import { statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HTTP_LIMITS } from '../../src/http/serve.js';
import { parseExposition, select } from '../helpers/prom.js';
import { freePort, pool, rawRequest, simFixture, startServe, waitFor, waitReady, within, type ServeProc } from './helpers.js';

const MARGIN_MS = 6_000;
/** Long paths make long request lines: the log fills in fewer requests. */
const PAD = 'p'.repeat(220);

const f = simFixture('hardening-log');
/** Debug level: one log line per request. */
const config = (name: string) => f.config(name, { schedule: '*/1 * * * * *', level: 'debug' });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** n requests that each log a long line; every one must be answered (a JSON 404: no such route). */
async function flood(p: ServeProc, n: number): Promise<void> {
  const codes = await pool(
    Array.from({ length: n }, (_, i) => i),
    16,
    (i) => rawRequest(p.url, { method: 'GET', path: `/${PAD}/${i}` }, 5_000).then((r) => r.status),
  );
  expect(codes.filter((c) => c !== 404)).toEqual([]);
}

/** /-/healthy latencies, each bounded: a hang fails here rather than at the test timeout. */
async function healthyLatencies(p: ServeProc, n: number): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = Date.now();
    const r = await rawRequest(p.url, { method: 'GET', path: '/-/healthy' }, 3_000);
    expect(r.status).toBe(200);
    ms.push(Date.now() - t0);
  }
  return ms;
}

async function dropped(p: ServeProc): Promise<number> {
  const t0 = Date.now();
  const r = await rawRequest(p.url, { method: 'GET', path: '/metrics' }, 3_000);
  expect(r.status).toBe(200);
  expect(Date.now() - t0).toBeLessThan(2_000);
  const [s] = select(parseExposition(r.text).samples, 'glue_eni_log_lines_dropped_total');
  expect(s, 'glue_eni_log_lines_dropped_total is exported').toBeDefined();
  return s.value;
}

async function stop(p: ServeProc): Promise<number> {
  const t0 = Date.now();
  p.child.kill('SIGTERM');
  const exit = await within('exit after SIGTERM', p.exited, HTTP_LIMITS.shutdownDeadlineMs + MARGIN_MS);
  expect(exit).toEqual({ code: 0, signal: null });
  return Date.now() - t0;
}

describe('stdout a file at its size limit (ulimit -f)', () => {
  it('keeps serving, counts the dropped lines, says so on stderr, and logs again once the file is truncated', async () => {
    // Small enough that even the old exporter, which logged no requests, fills it with sample lines in seconds.
    const LIMIT_KB = 4;
    const file = join(f.dir, 'stdout.log');
    const p = startServe({ config: config('full'), port: await freePort(), stdoutFile: file, fileSizeLimitKb: LIMIT_KB });
    f.procs.push(p);
    await waitReady(p);

    // Fill the file: request lines at debug level, far more than 4 KiB of them.
    await flood(p, 100);
    await waitFor('the file at its size limit', () => (statSync(file).size >= LIMIT_KB * 1024 - 512 ? true : undefined), 30_000);
    await flood(p, 100);
    const first = await waitFor('dropped lines counted', async () => ((await dropped(p)) > 0 ? dropped(p) : undefined), 10_000);

    // Serving as before.
    const latencies = await healthyLatencies(p, 20);
    console.log(
      `/-/healthy with stdout at its size limit: median ${median(latencies)} ms, max ${Math.max(...latencies)} ms over 20; ${first} lines dropped`,
    );
    expect(median(latencies)).toBeLessThan(500);

    // The counter keeps rising while the file stays full; one notice on stderr names the cause.
    await flood(p, 100);
    const second = await waitFor(
      'the counter to rise',
      async () => {
        const d = await dropped(p);
        return d > first ? d : undefined;
      },
      10_000,
    );
    expect(second).toBeGreaterThan(first);
    const notices = p.logs().filter((l) => l.msg === 'log destination failing: dropping log lines until it accepts writes again');
    expect(notices.map((n) => n.cause)).toContain('EFBIG');
    expect(statSync(file).size).toBeLessThanOrEqual(LIMIT_KB * 1024);

    // logrotate's copytruncate: the file has room again, and the log says what it missed.
    truncateSync(file, 0);
    await flood(p, 20);
    const back = await p.waitForLog('the gap noted in the log', (l) => l.msg === 'log destination accepts writes again; lines were dropped', 10_000);
    expect(back.cause).toContain('EFBIG');
    expect(back.log_lines_dropped_total).toBeGreaterThanOrEqual(second);

    console.log(`SIGTERM after a full log file: exit 0 in ${await stop(p)} ms`);
  }, 90_000);
});

describe('stdout a pipe whose reader stopped reading', () => {
  it('keeps serving, drops and counts lines beyond a bounded backlog, and exits on SIGTERM', async () => {
    const p = startServe({ config: config('stalled'), port: await freePort() });
    f.procs.push(p);
    await waitReady(p);
    p.child.stdout!.pause();

    // ~2.5 MB of request lines: more than the pipe and the 1 MiB backlog can hold.
    await flood(p, 8_000);
    const d = await waitFor('dropped lines counted', async () => ((await dropped(p)) > 0 ? dropped(p) : undefined), 10_000);
    const latencies = await healthyLatencies(p, 20);
    const rss = select(
      parseExposition((await rawRequest(p.url, { method: 'GET', path: '/metrics' })).text).samples,
      'process_resident_memory_bytes',
    )[0]?.value;
    console.log(
      `/-/healthy with a stalled stdout pipe: median ${median(latencies)} ms, max ${Math.max(...latencies)} ms over 20; ` +
        `${d} lines dropped; resident ${Math.round((rss ?? 0) / 2 ** 20)} MiB`,
    );
    expect(median(latencies)).toBeLessThan(500);

    console.log(`SIGTERM with stdout stalled: exit 0 in ${await stop(p)} ms`);
    p.child.stdout!.resume();
  }, 120_000);
});
