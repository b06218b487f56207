// The file store at its limits: a disk that fills up or turns read-only (a real tmpfs, mounted here when the
// test runs as root), records on disk that lie about their fields, and traffic that never stops.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../log.js';
import { reservedWorkers } from '../admission/reservations.js';
import { FileStore, LOG_FILE } from './file.js';
import { SpillJournal } from './journal.js';
import { StoreUnreachableError, type Observation, type Reservation, type Ticket } from './types.js';
import { captureLogger } from '../../test/helpers/log-capture.js';
import { tryMount } from '../../test/helpers/tmpfs.js';
import { observation, reservation, ticket } from '../../test/helpers/records.js';

const DAY = 86_400_000;
let now = Date.parse('2026-04-12T07:00:00.000Z');
const clock = { now: () => now };
let dir: string;
let n = 0;

const obs = (subnetId = 'subnet-0a', over: Partial<Observation> = {}): Observation =>
  observation(now, { subnetId, uniq: `u${n++}`, available: 5, lingering: 2, dagRunId: `run-${n}`, ...over });
const byKey = (ts: readonly Ticket[]) => [...ts].sort((a, b) => a.key.localeCompare(b.key));
const resv = (subnetId = 'subnet-0a', over: Partial<Reservation> = {}): Reservation =>
  reservation(`${subnetId}.${(n++).toString(16).padStart(8, '0')}`, now, { subnetId, workers: 3, ...over });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'glue-eni-store-limits-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// ---- a real small filesystem ---------------------------------------------------------------------------------

const probe = join(tmpdir(), `glue-eni-mount-probe-${process.pid}`);
const mountProblem = tryMount(probe, '64k');
if (!mountProblem) execFileSync('umount', [probe]);
rmSync(probe, { recursive: true, force: true });
if (mountProblem) console.warn(`tmpfs tests skipped: cannot mount a tmpfs here (${mountProblem})`);

describe.skipIf(mountProblem !== undefined)('FileStore on a small tmpfs', () => {
  let mnt: string;
  const opened: FileStore[] = [];

  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close().catch(() => undefined);
    try {
      execFileSync('umount', [mnt], { stdio: 'pipe' });
    } catch {
      // not mounted
    }
  });

  const mount = (name: string) => {
    mnt = join(dir, name);
    const err = tryMount(mnt, '128k');
    if (err) throw new Error(err);
    return mnt;
  };
  const open = async (dataDir: string) => {
    const s = await FileStore.open({ dataDir, clock, logger: silentLogger });
    opened.push(s);
    return s;
  };

  it('ENOSPC: every write is whole or refused; nothing acknowledged is lost, no line is torn; it recovers when space returns', async () => {
    const dataDir = mount('enospc');
    // Space an operator can free later.
    const filler = join(dataDir, 'filler');
    writeFileSync(filler, Buffer.alloc(40 * 1024));
    const s = await open(dataDir);
    const acked: { uniq: string; reservation: string }[] = [];
    const refusals: string[] = [];
    // Eight clients at a time, as many ticks as it takes to fill the disk, then some more.
    for (let round = 0; round < 200 && refusals.length < 40; round++) {
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          const o = obs('subnet-0a', { dagRunId: 'x'.repeat(200) });
          const r = resv();
          try {
            await s.transact('subnet-0a', now, () => ({ observation: o, add: r, result: 0 }));
            acked.push({ uniq: o.uniq, reservation: r.id });
          } catch (err) {
            expect(err).toBeInstanceOf(StoreUnreachableError);
            refusals.push((err as Error).message);
          }
        }),
      );
    }
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals[0]).toMatch(/ENOSPC/);
    // A refused admission is not counted as reserved by later decisions.
    const held = new Set((await s.reservations('subnet-0a', now)).map((r) => r.id));
    expect(held.size).toBe(acked.length);

    const text = readFileSync(join(dataDir, LOG_FILE), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { t: string; uniq?: string; r?: { id: string } });
    const onDisk = new Set(lines.map((l) => l.uniq ?? l.r?.id));
    expect(acked.filter((a) => !onDisk.has(a.uniq) || !onDisk.has(a.reservation))).toEqual([]);
    console.log(`tmpfs ENOSPC: ${acked.length} acknowledged, ${refusals.length} refused (503), ${lines.length} lines on disk, none torn`);

    // Another process on the same disk finds every acknowledged reservation.
    const again = await open(dataDir);
    expect(again.openReport).toMatchObject({ tornTail: false, rejected: 0 });
    const ids = new Set((await again.reservations('subnet-0a', now)).map((r) => r.id));
    expect(acked.filter((a) => !ids.has(a.reservation))).toEqual([]);
    await again.close();

    // Room again: the same store takes writes without a restart.
    rmSync(filler);
    const o = obs();
    await expect(s.transact('subnet-0a', now, () => ({ observation: o, result: 'ok' }))).resolves.toBe('ok');
  });

  it('ENOSPC: a refused step leaves no ticket change in memory, even when a later step in flight changed the same ticket', async () => {
    const dataDir = mount('enospc-tickets');
    const s = await open(dataDir);
    const x0 = ticket('run-x', now);
    await s.transact('subnet-0a', now, () => ({ observation: obs(), putTickets: [x0], result: 0 }));
    const filler = join(dataDir, 'filler');
    try {
      writeFileSync(filler, Buffer.alloc(256 * 1024));
    } catch {
      // filled to the last byte
    }
    const bulk = (tag: string) =>
      Array.from({ length: 30 }, (_, i) => ticket(`${tag}-${i}`, now, { id: `subnet-0a.t.${tag}${i.toString(16).padStart(15, '0')}` }));
    const poke = (k: number) => ({ ...x0, lastPokeAt: now + k, expiresAt: now + 200_000 + k });
    /** Step `first`, then `second` appended while the first one's write is in flight (the next batch). */
    const twoBatches = async (first: Ticket[], second: Ticket[], seen: number) => {
      const a = s.transact('subnet-0a', now, () => ({ observation: obs(), putTickets: first, result: 'a' }));
      await new Promise<void>((r) => setImmediate(r));
      const b = s.transact('subnet-0a', now, (st) => {
        // The second decides on the first one's changes, not yet durable.
        expect(st.tickets).toHaveLength(seen);
        return { observation: obs(), putTickets: second, result: 'b' };
      });
      return (await Promise.allSettled([a, b])).map((o) => (o.status === 'rejected' ? String(o.reason) : o.value));
    };
    // Bigger than the room left on the log's last page: refused. The small one after it fits: durable.
    const y = ticket('run-y', now);
    const out1 = await twoBatches([poke(1), ...bulk('a')], [poke(2), y], 31);
    expect(out1[0]).toMatch(/ENOSPC/);
    expect(out1[1]).toBe('b');
    const afterOne = [poke(2), y];
    expect(byKey(await s.tickets('subnet-0a', now))).toEqual(byKey(afterOne));
    // Both refused: the ticket is what the log holds, neither step's version.
    const out2 = await twoBatches([poke(3), ...bulk('c')], [poke(4), ...bulk('d')], 32);
    expect(out2.every((o) => /ENOSPC/.test(String(o)))).toBe(true);
    expect(byKey(await s.tickets('subnet-0a', now))).toEqual(byKey(afterOne));
    expect(byKey(s.peekTickets('subnet-0a') ?? [])).toEqual(byKey(afterOne));
    const again = await open(dataDir);
    expect(byKey(await again.tickets('subnet-0a', now))).toEqual(byKey(afterOne));
    await again.close();
    // Room again: the same store takes the step, and compaction writes the queue as memory shows it.
    rmSync(filler);
    await s.transact('subnet-0a', now, () => ({ observation: obs(), putTickets: [poke(5)], result: 0 }));
    await s.compact();
    const reread = await open(dataDir);
    expect(byKey(await reread.tickets('subnet-0a', now))).toEqual(byKey([poke(5), y]));
  });

  it('a full disk at open: no exit, reads served, writes refused naming ENOSPC, and accepted again once there is room', async () => {
    const dataDir = mount('full-at-open');
    // A log bigger than the room left for its compaction copy.
    const lines: string[] = [];
    for (let i = 0; lines.join('').length < 70_000; i++) {
      lines.push(
        `${JSON.stringify({
          t: 'obs',
          subnet_id: 'subnet-0a',
          observed_at: new Date(now).toISOString(),
          uniq: `p${i}`,
          total_enis: 40,
          in_use: 30,
          available: i % 7,
          tail: i % 7,
          decision: 'wait',
          expires_at: Math.ceil((now + DAY) / 1000),
          dag_run_id: 'y'.repeat(150),
        })}\n`,
      );
    }
    writeFileSync(join(dataDir, LOG_FILE), lines.join(''));
    const filler = join(dataDir, 'filler');
    try {
      writeFileSync(filler, Buffer.alloc(128 * 1024));
    } catch {
      // filled to the last byte
    }
    const s = await open(dataDir);
    expect((await s.recentObservations('subnet-0a', 5, now)).map((o) => o.uniq)).toEqual(
      Array.from({ length: 5 }, (_, k) => `p${lines.length - 1 - k}`),
    );
    // The last page of the log may still have a few bytes of room: write until the disk refuses.
    let refusal: Error | undefined;
    for (let i = 0; i < 100 && !refusal; i++) {
      await s.transact('subnet-0a', now, () => ({ observation: obs(), add: resv(), result: 0 })).catch((err: Error) => (refusal = err));
    }
    expect(refusal).toBeInstanceOf(StoreUnreachableError);
    expect(refusal!.message).toMatch(/ENOSPC/);
    const held = (await s.reservations('subnet-0a', now)).length;

    rmSync(filler);
    await expect(s.transact('subnet-0a', now, () => ({ observation: obs(), add: resv(), result: 'admitted' }))).resolves.toBe('admitted');
    expect(await s.reservations('subnet-0a', now)).toHaveLength(held + 1);
  });

  it('a read-only disk at open: no exit, writes refused naming EROFS, accepted once it is writable again', async () => {
    const dataDir = mount('read-only');
    const first = await open(dataDir);
    await first.transact('subnet-0a', now, () => ({ observation: obs(), result: 0 }));
    await first.close();
    execFileSync('mount', ['-o', 'remount,ro', mnt]);
    const s = await open(dataDir);
    expect(await s.recentObservations('subnet-0a', 5, now)).toHaveLength(1);
    await expect(s.transact('subnet-0a', now, () => ({ observation: obs(), result: 0 }))).rejects.toThrow(/EROFS/);
    execFileSync('mount', ['-o', 'remount,rw', mnt]);
    await expect(s.transact('subnet-0a', now, () => ({ observation: obs(), result: 'ok' }))).resolves.toBe('ok');
    expect(await s.recentObservations('subnet-0a', 5, now)).toHaveLength(2);
  });
});

// ---- untrusted records ---------------------------------------------------------------------------------------

describe('records read from disk are validated', () => {
  it('a reservation with workers "zz" (and other lies) is set aside, counted, named by line and field, and never decides', async () => {
    const dataDir = join(dir, 'lies');
    const s = await FileStore.open({ dataDir, clock, logger: silentLogger });
    const good = resv('subnet-0a', { workers: 4 });
    await s.transact('subnet-0a', now, () => ({ observation: obs(), add: good, result: 0 }));
    await s.close();
    const bad = { ...resv(), workers: 'zz' };
    writeFileSync(
      join(dataDir, LOG_FILE),
      readFileSync(join(dataDir, LOG_FILE), 'utf8') +
        JSON.stringify({ t: 'res', r: bad }) +
        '\n' +
        JSON.stringify({
          t: 'obs',
          ...JSON.parse(
            JSON.stringify({
              subnet_id: 'subnet-0a',
              observed_at: new Date(now).toISOString(),
              uniq: 'bad',
              total_enis: 1,
              in_use: 1,
              available: 'lots',
              tail: 1,
              decision: 'wait',
              expires_at: 1e10,
            }),
          ),
        }) +
        '\n' +
        '{"t":"queue-ticket-from-the-future","id":1}\n' +
        'x'.repeat(70_000) +
        '\n',
    );
    const { logger, lines } = captureLogger();
    const r = await FileStore.open({ dataDir, clock, logger });
    expect(r.openReport).toMatchObject({ records: 2, rejected: 4, skipped: 4, tornTail: false });
    const rs = await r.reservations('subnet-0a', now);
    expect(rs.map((x) => x.id)).toEqual([good.id]);
    expect(reservedWorkers(rs, [], now).reserved).toBe(4);
    expect((await r.recentObservations('subnet-0a', 10, now)).every((o) => Number.isFinite(o.available))).toBe(true);

    const named = lines.filter((l) => l.msg === 'admission log: invalid record set aside');
    expect(named.map((l) => [l.line, l.field])).toEqual([
      [3, 'r.workers'],
      [4, 'available'],
      [5, 't'],
      [6, '(line)'],
    ]);
    const aside = readFileSync(join(dataDir, `${LOG_FILE}.rejected`), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; field: string; text: string });
    expect(aside.map((a) => a.field)).toEqual(['r.workers', 'available', 't', '(line)']);
    expect(aside[0].text).toContain('"zz"');
    // The log was rewritten without them: the next open is clean.
    await r.close();
    const again = await FileStore.open({ dataDir, clock, logger: silentLogger });
    expect(again.openReport).toMatchObject({ rejected: 0, records: 2 });
    await again.close();
  });

  it('the DynamoDB outage journal validates its lines the same way', async () => {
    const path = join(dir, 'journal', 'dynamodb-pending-t.jsonl');
    mkdirSync(join(dir, 'journal'), { recursive: true });
    const rec = {
      subnet_id: 'subnet-0a',
      observed_at: new Date(now).toISOString(),
      uniq: 'j1',
      total_enis: 3,
      in_use: 1,
      available: 2,
      tail: 2,
      decision: 'wait',
      expires_at: 2e9,
    };
    writeFileSync(
      path,
      `${JSON.stringify(rec)}\n${JSON.stringify({ ...rec, uniq: 'j2', in_use: -1 })}\n${JSON.stringify({ ...rec, uniq: 'j3' })}\n{"subnet`,
    );
    const { journal, contents } = await SpillJournal.open(path, silentLogger);
    expect(contents).toMatchObject({ rejected: 1, skipped: 2, tornTail: true });
    expect(contents.records.map((r) => r.uniq)).toEqual(['j1', 'j3']);
    // The torn fragment is cut before the next append: the journal reads back whole.
    await journal.append({ ...rec, uniq: 'j4' } as never);
    await journal.close();
    const text = readFileSync(path, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text).not.toContain('{"subnet\n');
    expect(readFileSync(`${path}.rejected`, 'utf8')).toContain('"field":"in_use"');
  });
});

// ---- bounded size --------------------------------------------------------------------------------------------

describe('the log stays bounded whatever the traffic', () => {
  it('compacts on growth: the log never exceeds ~2 × (history + windows + reservations), windows and retained reservations survive', async () => {
    const dataDir = join(dir, 'bounded');
    const historyBytes = 64 * 1024;
    const s = await FileStore.open({ dataDir, clock, logger: silentLogger, historyBytes });
    const subnets = ['subnet-0a', 'subnet-0b', 'subnet-0c'];
    let maxSize = 0;
    let written = 0;
    const live: string[] = [];
    for (let tick = 0; tick < 400; tick++) {
      now += 1000;
      await Promise.all(
        Array.from({ length: 30 }, (_, k) => {
          const subnet = subnets[k % 3];
          const add = k === 0 ? resv(subnet) : undefined;
          if (add && tick >= 390) live.push(add.id);
          written += 260;
          return s.transact(subnet, now, () => ({ observation: obs(subnet), add, result: 0 }));
        }),
      );
      maxSize = Math.max(maxSize, statSync(join(dataDir, LOG_FILE)).size);
    }
    // What the decisions need (3 windows of 100, 400 retained reservations) plus the history, twice at most.
    const needed = 3 * 100 * 260 + 400 * 220;
    expect(written).toBeGreaterThan(3_000_000);
    expect(maxSize).toBeLessThan(2 * (historyBytes + needed) + 32 * 1024);
    expect(s.storeBytes()).toBe(statSync(join(dataDir, LOG_FILE)).size);
    const before = await Promise.all(subnets.map((x) => s.recentObservations(x, 100, now)));
    await s.close();

    const r = await FileStore.open({ dataDir, clock, logger: silentLogger, historyBytes });
    const after = await Promise.all(subnets.map((x) => r.recentObservations(x, 100, now)));
    expect(after).toEqual(before);
    expect(after[0]).toHaveLength(100);
    const ids = new Set((await r.reservations('subnet-0a', now)).concat(await r.reservations('subnet-0b', now)).map((x) => x.id));
    expect(live.filter((id) => id.startsWith('subnet-0a') || id.startsWith('subnet-0b')).every((id) => ids.has(id))).toBe(true);
    console.log(
      `bounded log: ${(written / 1e6).toFixed(1)} MB appended, largest log ${(maxSize / 1024).toFixed(0)} KB, history cap ${historyBytes / 1024} KB`,
    );
    await r.close();
  }, 60_000);
});
