import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../log.js';
import { FileStore, LOG_FILE } from './file.js';
import type { Observation, Reservation } from './types.js';
import { observation, reservation, ticket } from '../../test/helpers/records.js';

const DAY = 86_400_000;
let now = Date.parse('2026-04-12T07:00:00.000Z');
const clock = { now: () => now };
let dir: string;

const obs = (i: number, over: Partial<Observation> = {}): Observation =>
  observation(now, { uniq: `u${i}`, totalEnis: 40 + i, available: i, lingering: 2, dagRunId: `run${i}`, ...over });
const resv = (id: string, over: Partial<Reservation> = {}): Reservation => reservation(`subnet-0a.${id}`, now, over);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glue-eni-file-store-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fresh(name: string): Promise<FileStore> {
  return FileStore.open({ dataDir: join(dir, name), clock, logger: silentLogger });
}

describe('FileStore', () => {
  it('group-commits writes of one tick, and a reopen keeps the window and live reservations', async () => {
    const s = await fresh('reopen');
    const writes = Array.from({ length: 50 }, (_, i) =>
      s.transact('subnet-0a', now, () => ({ observation: obs(i), add: i === 7 ? resv('0000000a') : undefined, result: i })),
    );
    expect(s.pendingWrites()).toBe(50);
    const before = s.commits;
    expect(await Promise.all(writes)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(s.commits - before).toBe(1); // one append + one fdatasync for the whole tick
    expect(s.pendingWrites()).toBe(0);
    expect(await s.closeReservation('subnet-0a.0000000a', 'released', now)).toMatchObject({ closed: 'released' });
    await s.transact('subnet-0a', now, () => ({ observation: obs(50), add: resv('0000000b'), result: 0 }));
    await s.close();

    const r = await fresh('reopen');
    expect(r.openReport).toMatchObject({ tornTail: false, skipped: 0 });
    const recent = await r.recentObservations('subnet-0a', 5, now);
    expect(recent.map((o) => o.available)).toEqual([50, 49, 48, 47, 46]);
    expect(recent[0]).toEqual(obs(50));
    const rs = await r.reservations('subnet-0a', now);
    expect(rs.find((x) => x.id.endsWith('0000000a'))?.closed).toBe('released');
    expect(rs.find((x) => x.id.endsWith('0000000b'))?.closed).toBeUndefined();
    await r.close();
  });

  it('observations, reservations and tickets keep their target (account, region) across a reopen; old records without one load', async () => {
    const target = { account: '222222222222', region: 'us-east-1' };
    const s = await fresh('target');
    // Records written before there were targets: no account, no region.
    await s.transact('subnet-0a', now, () => ({ observation: obs(1), add: resv('0000001a'), result: 0 }));
    const t = ticket('run-7', now, target);
    await s.transact('subnet-0a', now, () => ({ observation: obs(2, target), add: resv('0000002a', target), putTickets: [t], result: 0 }));
    await s.close();
    const lines = (await readFile(join(dir, 'target', LOG_FILE), 'utf8')).trim().split('\n');
    expect(lines.filter((l) => l.includes('"account":"222222222222","region":"us-east-1"'))).toHaveLength(3);

    const r = await fresh('target');
    expect(r.openReport).toMatchObject({ skipped: 0, rejected: 0 });
    expect(await r.recentObservations('subnet-0a', 5, now)).toEqual([obs(2, target), obs(1)]);
    const rs = await r.reservations('subnet-0a', now);
    expect(rs.find((x) => x.id.endsWith('0000002a'))).toEqual(resv('0000002a', target));
    expect(rs.find((x) => x.id.endsWith('0000001a'))).toEqual(resv('0000001a'));
    expect(await r.tickets('subnet-0a', now)).toEqual([t]);
    await r.close();
    // A malformed target is set aside like any bad field, named.
    await appendFile(join(dir, 'target', LOG_FILE), `${JSON.stringify({ t: 'obs', ...JSON.parse(lines[0]!), account: '2222' })}\n`);
    const again = await fresh('target');
    expect(again.openReport.rejected).toBe(1);
    expect(await readFile(join(dir, 'target', `${LOG_FILE}.rejected`), 'utf8')).toContain(
      '"field":"account","error":"expected a 12-digit AWS account id"',
    );
    await again.close();
  });

  it('tolerates a torn last line: skips and reports it, keeps everything before it', async () => {
    const s = await fresh('torn');
    for (let i = 0; i < 3; i++) await s.transact('subnet-0a', now, () => ({ observation: obs(i), result: i }));
    await s.close();
    await appendFile(join(dir, 'torn', LOG_FILE), '{"t":"obs","subnet_id":"subnet-0a","observed_at":"2026-04');
    const r = await fresh('torn');
    expect(r.openReport).toEqual({ records: 3, tornTail: true, skipped: 1, rejected: 0, dropped: 0 });
    expect((await r.recentObservations('subnet-0a', 10, now)).map((o) => o.available)).toEqual([2, 1, 0]);
    // Compaction at open rewrote the log without the fragment.
    expect((await readFile(join(dir, 'torn', LOG_FILE), 'utf8')).endsWith('}\n')).toBe(true);
    await r.close();
  });

  it('drops expired observations and retired reservations when compacting', async () => {
    const s = await fresh('compact');
    await s.transact('subnet-0a', now, () => ({ observation: obs(1, { expiresAt: now + DAY }), add: resv('0000000c'), result: 0 }));
    await s.transact('subnet-0a', now, () => ({ observation: obs(2, { expiresAt: now + 3 * DAY }), result: 0 }));
    await s.close();
    now += 2 * DAY;
    try {
      const r = await fresh('compact');
      expect(r.openReport.dropped).toBe(2);
      expect((await r.recentObservations('subnet-0a', 10, now)).map((o) => o.uniq)).toEqual(['u2']);
      expect(await r.reservations('subnet-0a', now)).toEqual([]);
      const lines = (await readFile(r.logPath, 'utf8')).trim().split('\n');
      expect(lines).toHaveLength(1);
      await r.close();
    } finally {
      now -= 2 * DAY;
    }
  });

  it('a line corrupted mid-log is skipped, the rest kept', async () => {
    const d = join(dir, 'corrupt');
    const s = await FileStore.open({ dataDir: d, clock, logger: silentLogger });
    await s.transact('subnet-0a', now, () => ({ observation: obs(1), result: 0 }));
    await s.close();
    const text = await readFile(join(d, LOG_FILE), 'utf8');
    await writeFile(join(d, LOG_FILE), `garbage\n${text}`);
    const r = await FileStore.open({ dataDir: d, clock, logger: silentLogger });
    expect(r.openReport).toMatchObject({ records: 1, skipped: 1, tornTail: false });
    await r.close();
  });
});

describe('FileStore under kill -9', () => {
  // The built store (npm test builds dist/ first), so that a separate process can run it.
  const built = join(process.cwd(), 'dist/store/file.js');
  beforeAll(() => {
    if (!existsSync(built)) throw new Error(`${built} is missing: run npm run build`);
  });

  it('loses nothing that was acknowledged: observations and queue tickets', async () => {
    const dataDir = join(dir, 'kill9');
    const script = `
      import { FileStore } from ${JSON.stringify(built)};
      const logger = { warn() {}, error() {}, info() {} };
      const s = await FileStore.open({ dataDir: ${JSON.stringify(dataDir)}, clock: { now: () => Date.now() }, logger });
      let i = 0;
      for (;;) {
        const batch = [];
        for (let k = 0; k < 20; k++, i++) {
          const n = i;
          // Every other step also enqueues a ticket (its id carries n), kept an hour.
          const putTickets = n % 2 === 0 ? [{ id: 'subnet-0a.t.' + n.toString(16).padStart(16, '0'), subnetId: 'subnet-0a',
            key: 'run-' + n, workers: 1, enqueuedAt: Date.now(), lastPokeAt: Date.now(), expiresAt: Date.now() + 3600000 }] : [];
          batch.push(s.transact('subnet-0a', Date.now(), () => ({
            observation: { subnetId: 'subnet-0a', observedAt: Date.now(), uniq: 'k' + n, totalEnis: n, inUse: 0, available: 0,
              decision: 'wait', expiresAt: Date.now() + 86400000 },
            putTickets,
            result: n,
          })).then((n) => process.stdout.write('ack ' + n + '\\n')));
        }
        await Promise.all(batch);
      }
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acked = new Set<number>();
    let buf = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) if (l.startsWith('ack ')) acked.add(Number(l.slice(4)));
        if (acked.size >= 500 && !child.killed) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((r) => child.once('exit', r));
    const r = await FileStore.open({ dataDir, clock: { now: () => Date.now() }, logger: silentLogger });
    expect(r.openReport.records).toBeGreaterThanOrEqual(acked.size);
    // Memory keeps only a recent window; the log itself holds every record.
    const text = await readFile(r.logPath, 'utf8');
    const kept = new Set(
      text
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { total_enis?: number }).total_enis),
    );
    expect(acked.size).toBeGreaterThanOrEqual(500);
    const lost = [...acked].filter((n) => !kept.has(n));
    expect(lost).toEqual([]);
    const queued = new Set((await r.tickets('subnet-0a', Date.now())).map((t) => t.key));
    const lostTickets = [...acked].filter((n) => n % 2 === 0 && !queued.has(`run-${n}`));
    expect(lostTickets).toEqual([]);
    await r.close();
  }, 60_000);

  it('each decision sees the reservations retained at its own time: added, undone, past retainUntil, earlier times', async () => {
    const s = await fresh('retained');
    const t0 = now;
    const seen = (at: number) => s.transact('subnet-0a', at, (st) => ({ observation: obs(0), result: st.reservations.map((r) => r.id) }));
    const add = (id: string, at: number, retainUntil: number) =>
      s.transact('subnet-0a', at, () => ({ observation: obs(1), add: reservation(`subnet-0a.${id}`, at, { retainUntil }), result: 0 }));
    await add('a', t0, t0 + 10_000);
    await add('b', t0, t0 + 20_000);
    expect(await seen(t0)).toEqual(['subnet-0a.a', 'subnet-0a.b']);
    expect(await seen(t0 + 5_000)).toEqual(['subnet-0a.a', 'subnet-0a.b']);
    // The same list object for a decision at another time while nothing changed: nothing copied.
    const lists: unknown[] = [];
    await s.transact('subnet-0a', t0 + 6_000, (st) => ({ observation: obs(0), result: lists.push(st.reservations) }));
    await s.transact('subnet-0a', t0 + 7_000, (st) => ({ observation: obs(0), result: lists.push(st.reservations) }));
    expect(lists[0]).toBe(lists[1]);
    expect(await seen(t0 + 10_000)).toEqual(['subnet-0a.b']);
    expect(await seen(t0 + 9_999)).toEqual(['subnet-0a.a', 'subnet-0a.b']);
    await add('c', t0 + 11_000, t0 + 30_000);
    expect(await seen(t0 + 12_000)).toEqual(['subnet-0a.b', 'subnet-0a.c']);
    expect(await seen(t0 + 20_000)).toEqual(['subnet-0a.c']);
    await s.close();
  });
});
