// The admission store of the real binary (`node dist/cli.js serve` against the AWS simulator) when its disk
// runs out or its files lie:
//   - `ulimit -f` on the exporter: eight clients admit and release until writes fail; every answer that said
//     admit (or released) must be in the log after a restart, no line torn, and the refused ones were 503s
//     naming the cause;
//   - a full disk at start-up (a 128 KB tmpfs, when one can be mounted): the exporter serves /metrics and
//     answers /admit with a 503 naming ENOSPC instead of exiting;
//   - a reservation with `"workers":"zz"` in the log: set aside, counted in /metrics, never a NaN.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { FileStore, LOG_FILE } from '../../src/store/file.js';
import { tryMount } from '../helpers/tmpfs.js';
import { freePort, killProc, rawRequest, readLedger, simFixture, startServe, waitReady, type ServeProc } from './helpers.js';

const CLIENTS = 8;
const LIMIT_KB = 100;

const f = simFixture('hardening-store-disk', { startAt: '2026-04-06T05:05:00Z' });
const procs: ServeProc[] = [];

afterEach(async () => {
  for (const p of procs.splice(0)) await killProc(p);
});

const writeConfig = (name: string, dataDir: string) =>
  f.config(name, {
    subnets: ['{id: subnet-0a1, name: critical}', '{id: subnet-0b2}'],
    dataDir,
    extra: ['admission: {policy: static, staticBuffer: 0}'],
  });

async function serve(config: string, fileSizeLimitKb?: number): Promise<ServeProc> {
  const port = await freePort();
  const proc = startServe({ config, port, fileSizeLimitKb });
  procs.push(proc);
  await waitReady(proc);
  return proc;
}

describe('the admission log on a disk that runs out', () => {
  it(`under ulimit -f ${LIMIT_KB}: every admit and release answered 200 is in the log after a restart; the rest are 503s naming EFBIG`, async () => {
    const dataDir = join(f.dir, 'ulimit');
    const proc = await serve(writeConfig('ulimit', dataDir), LIMIT_KB);
    const admitted: string[] = [];
    const released: string[] = [];
    const observed: string[] = [];
    const refusals: string[] = [];
    let requests = 0;
    const client = async (c: number) => {
      for (let n = 0; refusals.length < 40 && requests < 4000; n++) {
        requests++;
        const dagRunId = `c${c}-${n}`;
        const res = await rawRequest(proc.url, {
          method: 'GET',
          path: `/admit?subnet=${c % 2 ? 'critical' : 'subnet-0b2'}&workers=1&dag_run_id=${dagRunId}`,
        });
        if (res.status === 503) {
          refusals.push((JSON.parse(res.text) as { error: string }).error);
          continue;
        }
        expect(res.status, res.text).toBe(200);
        const body = JSON.parse(res.text) as { admit: boolean; reserved: unknown; reservation_id?: string };
        expect(typeof body.reserved).toBe('number');
        observed.push(dagRunId);
        if (!body.admit) continue;
        admitted.push(body.reservation_id!);
        const del = await rawRequest(proc.url, { method: 'DELETE', path: `/admit/${body.reservation_id}` });
        if (del.status === 503) refusals.push((JSON.parse(del.text) as { error: string }).error);
        else if (del.status === 200) released.push(body.reservation_id!);
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
    // /metrics still answers while the disk refuses writes.
    const metrics = await rawRequest(proc.url, { method: 'GET', path: '/metrics' });
    await killProc(proc);

    const ledger = readLedger(join(dataDir, LOG_FILE));
    const inLog = new Set(ledger.records.map((r) => (r.t === 'obs' ? r.dag_run_id : r.t === 'res' ? r.r?.id : `cls:${r.id}`)));
    const store = await FileStore.open({ dataDir, clock: systemClock, logger: silentLogger });
    const known = new Set<string>();
    for (const s of ['subnet-0a1', 'subnet-0b2']) for (const r of await store.reservations(s, Date.now())) known.add(r.id);
    await store.close();
    console.log(
      `ulimit -f ${LIMIT_KB}: ${admitted.length} answered admit: true, ${released.length} releases answered, ${observed.length} observations answered, ` +
        `${refusals.length} refused (503); in the log (${ledger.unreadable} torn lines): ${ledger.count.res} reservations, ${ledger.count.cls} releases, ${ledger.count.obs} observations; ` +
        `unknown after restart: ${admitted.filter((id) => !known.has(id)).length}`,
    );
    expect(
      admitted.filter((id) => !known.has(id)),
      'admissions answered 200 but unknown after a restart',
    ).toEqual([]);
    expect(ledger.unreadable, 'torn lines in the log').toBe(0);
    expect(ledger.bytes.endsWith('\n')).toBe(true);
    expect(
      released.filter((id) => !inLog.has(`cls:${id}`)),
      'releases answered 200 but not in the log',
    ).toEqual([]);
    expect(
      observed.filter((d) => !inLog.has(d)),
      'observations answered 200 but not in the log',
    ).toEqual([]);
    expect(refusals.length, 'the file size limit was never reached').toBeGreaterThan(0);
    expect(refusals[0]).toMatch(/EFBIG|file too large/i);
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/glue_eni_store_bytes\{store="file"\} \d+/);
  }, 120_000);
});

// ---- a full disk at start-up --------------------------------------------------------------------------------

describe('a full disk at start-up', () => {
  it('serves /metrics and answers /admit 503 naming ENOSPC instead of exiting; admits again once there is room', async (ctx) => {
    const mnt = join(f.dir, 'full');
    const problem = tryMount(mnt, '128k');
    if (problem) ctx.skip(`cannot mount a tmpfs here (${problem})`);
    try {
      const dataDir = join(mnt, 'data');
      mkdirSync(dataDir);
      const config = writeConfig('full', dataDir);
      // A first run leaves a log; then the disk fills up around it.
      const first = await serve(config);
      for (let i = 0; i < 120; i++) {
        const r = await rawRequest(first.url, { method: 'GET', path: `/admit?subnet=critical&workers=1&dag_run_id=${'f'.repeat(200)}${i}` });
        expect(r.status, r.text).toBe(200);
      }
      await killProc(first, 'SIGTERM');
      // A write cut short before the disk filled: the restart must rewrite the log, and cannot.
      appendFileSync(join(dataDir, LOG_FILE), '{"t":"obs","subnet_id":"subnet-0a1","observed_at":"2026-');
      const filler = join(mnt, 'filler');
      try {
        writeFileSync(filler, Buffer.alloc(128 * 1024));
      } catch {
        // full
      }

      const proc = await serve(config);
      const metrics = await rawRequest(proc.url, { method: 'GET', path: '/metrics' });
      expect(metrics.status).toBe(200);
      // The page of the log's end may have a few bytes of room: the disk refuses within a few requests.
      const answers = [];
      for (let i = 0; i < 40; i++) {
        const r = await rawRequest(proc.url, { method: 'GET', path: `/admit?subnet=critical&workers=1&dag_run_id=${'g'.repeat(200)}${i}` });
        answers.push(r);
        if (r.status === 503) break;
      }
      const refused = answers.at(-1)!;
      expect(refused.status, refused.text).toBe(503);
      expect((JSON.parse(refused.text) as { error: string }).error).toMatch(/ENOSPC/);
      expect(proc.logs().some((l) => l.msg === 'store compaction at open failed; appending to the log as it is')).toBe(true);

      rmSync(filler);
      const again = await rawRequest(proc.url, { method: 'GET', path: '/admit?subnet=critical&workers=1&dag_run_id=after' });
      expect(again.status, again.text).toBe(200);
    } finally {
      for (const p of procs.splice(0)) await killProc(p);
      execFileSync('umount', [mnt]);
    }
  }, 120_000);
});

// ---- a record that lies ---------------------------------------------------------------------------------------

describe('a lying record in the admission log', () => {
  it('"workers":"zz" is set aside and counted: no NaN in answers or /metrics', async () => {
    const dataDir = join(f.dir, 'lies');
    mkdirSync(dataDir, { recursive: true });
    const now = Date.now();
    const bad = {
      id: 'subnet-0a1.0123abcd-0000-4000-8000-000000000000',
      subnetId: 'subnet-0a1',
      workers: 'zz',
      createdAt: now,
      expiresAt: now + 600_000,
      retainUntil: now + 1_200_000,
    };
    writeFileSync(join(dataDir, LOG_FILE), `${JSON.stringify({ t: 'res', r: bad })}\n`);
    const proc = await serve(writeConfig('lies', dataDir));
    const named = await proc.waitForLog('the rejected line', (l) => l.msg === 'admission log: invalid record set aside');
    expect(named).toMatchObject({ line: 1, field: 'r.workers' });
    const r = await rawRequest(proc.url, { method: 'GET', path: '/admit?subnet=critical&workers=1&dag_run_id=x' });
    expect(r.status, r.text).toBe(200);
    const body = JSON.parse(r.text) as { admit: boolean; reserved: unknown };
    expect(body.reserved).toBe(0);
    expect(body.admit).toBe(true);
    const metrics = (await rawRequest(proc.url, { method: 'GET', path: '/metrics' })).text;
    expect(metrics).not.toMatch(/\bNaN\b/);
    expect(metrics).toContain('glue_eni_store_rejected_records_total{store="file"} 1');
    expect(readFileSync(join(dataDir, `${LOG_FILE}.rejected`), 'utf8')).toContain('"field":"r.workers"');
  }, 60_000);
});
