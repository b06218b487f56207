// Queue tickets in the file store: durable in the log beside the step's observation and reservation, read back
// (and validated) at open, kept by compaction while live, bounded per subnet.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../log.js';
import { FileStore, LOG_FILE, MAX_TICKETS_PER_SUBNET } from './file.js';
import { InvalidTicketError } from './tickets.js';
import { QueueFullError, type Observation, type Ticket } from './types.js';
import { captureLogger } from '../../test/helpers/log-capture.js';
import { observation, reservation, ticket } from '../../test/helpers/records.js';

let now = Date.parse('2026-04-12T07:00:00.000Z');
const clock = { now: () => now };
let dir: string;
let n = 0;

const obs = (over: Partial<Observation> = {}): Observation => observation(now, { uniq: `u${n++}`, ...over });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glue-eni-file-tickets-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const open = (name: string) => FileStore.open({ dataDir: join(dir, name), clock, logger: silentLogger });
const byKey = (ts: readonly Ticket[]) => [...ts].sort((a, b) => a.key.localeCompare(b.key));
const logRecords = async (s: FileStore) =>
  (await readFile(s.logPath, 'utf8'))
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { t: string; k?: Ticket; id?: string });

describe('FileStore tickets', () => {
  it('survive a restart: puts, replacements, drops in a step and withdrawals are what a new process reads back', async () => {
    const s = await open('restart');
    const a = ticket('run-a', now, { deadline: now + 3_600_000 });
    const b = ticket('run-b', now, { workers: 4 });
    const c = ticket('run-c', now);
    await s.transact('subnet-0a', now, (st) => {
      expect(st.tickets).toEqual([]);
      return { observation: obs(), putTickets: [a, b, c], result: 0 };
    });
    // The next step sees them; it admits b (reservation + drop) and re-pokes a (replaced, with its ETA).
    const a2 = { ...a, lastPokeAt: now + 60_000, expiresAt: now + 240_000, etaAt: now + 1_200_000 };
    await s.transact('subnet-0a', now + 60_000, (st) => {
      expect(byKey(st.tickets)).toEqual([a, b, c]);
      return {
        observation: obs(),
        add: reservation('subnet-0a.0000000b', now, { workers: 4 }),
        putTickets: [a2],
        dropTickets: [b.id, 'subnet-0a.t.0123456789abcdef'],
        result: 1,
      };
    });
    expect(await s.withdrawTicket(c.id, now + 60_000)).toEqual(c);
    expect(await s.withdrawTicket(c.id, now + 60_000)).toBeUndefined();
    expect(await s.withdrawTicket('subnet-0b.t.0123456789abcdef', now)).toBeUndefined();
    expect(await s.tickets('subnet-0a', now + 60_000)).toEqual([a2]);
    await s.close();

    const r = await open('restart');
    expect(r.openReport).toMatchObject({ rejected: 0, tornTail: false });
    expect(await r.tickets('subnet-0a', now + 60_000)).toEqual([a2]);
    expect(r.peekTickets('subnet-0a')).toEqual([a2]);
    expect((await r.reservations('subnet-0a', now + 60_000)).map((x) => x.id)).toEqual(['subnet-0a.0000000b']);
    // The compaction at open wrote the queue as one record per live ticket.
    expect((await logRecords(r)).filter((x) => x.t === 'tkt' || x.t === 'tkd')).toEqual([{ t: 'tkt', k: a2 }]);
    await r.close();
  });

  it('keeps only the fields a ticket has, and refuses a ticket it could not read back, naming the field', async () => {
    const s = await open('invalid');
    const extra = { ...ticket('run-x', now), note: 'not a ticket field' } as Ticket;
    await s.transact('subnet-0a', now, () => ({ observation: obs(), putTickets: [extra], result: 0 }));
    expect(await s.tickets('subnet-0a', now)).toEqual([ticket('run-x', now)]);
    const bytes = s.storeBytes();
    const bad = [
      [{ ...ticket('run-y', now), key: 'k'.repeat(251) }, /field key/],
      [{ ...ticket('run-y', now), workers: 0 }, /field workers/],
      [ticket('run-y', now, { subnetId: 'subnet-0b' }), /field subnetId: subnet-0b is not the step's subnet subnet-0a/],
      [{ ...ticket('run-y', now), id: 'subnet-0a.nope' }, /field id/],
    ] as const;
    for (const [t, msg] of bad) {
      const err = await s.transact('subnet-0a', now, () => ({ observation: obs(), putTickets: [t as Ticket], result: 0 })).catch((e: Error) => e);
      expect(err).toBeInstanceOf(InvalidTicketError);
      expect((err as Error).message).toMatch(msg);
    }
    // Nothing of the refused steps was recorded.
    expect(s.storeBytes()).toBe(bytes);
    expect(await s.tickets('subnet-0a', now)).toHaveLength(1);
    await s.close();
  });

  it('expired tickets are not decided on, ignored on load and dropped by compaction; live ones are kept', async () => {
    const s = await open('expiry');
    const short = ticket('short', now, { expiresAt: now + 60_000 });
    const long = ticket('long', now, { expiresAt: now + 3_600_000 });
    await s.transact('subnet-0a', now, () => ({ observation: obs(), putTickets: [short, long], result: 0 }));
    const later = now + 120_000;
    // /metrics reads memory at the clock's time: the expired ticket is not counted, before any step prunes it.
    now = later;
    expect(s.peekTickets('subnet-0a')).toEqual([long]);
    now -= 120_000;
    await s.transact('subnet-0a', later, (st) => {
      expect(st.tickets).toEqual([long]);
      return { observation: obs({ observedAt: later }), result: 0 };
    });
    expect(await s.tickets('subnet-0a', later)).toEqual([long]);
    await s.close();

    now = later;
    try {
      const r = await open('expiry');
      expect(await r.tickets('subnet-0a', now)).toEqual([long]);
      // Compaction while open keeps the live ticket, as one record.
      await r.compact();
      expect((await logRecords(r)).filter((x) => x.t === 'tkt').map((x) => x.k?.key)).toEqual(['long']);
      await r.close();
    } finally {
      now -= 120_000;
    }
    // Once it has expired too, a reopen drops it (counted) and the log holds no ticket.
    now += 2 * 3_600_000;
    try {
      const r = await open('expiry');
      expect(r.openReport.dropped).toBeGreaterThanOrEqual(1);
      expect(await r.tickets('subnet-0a', now)).toEqual([]);
      expect(r.peekTickets('subnet-0a')).toEqual([]);
      expect((await logRecords(r)).some((x) => x.t === 'tkt')).toBe(false);
      await r.close();
    } finally {
      now -= 2 * 3_600_000;
    }
  });

  it('a corrupt ticket record is set aside in .rejected, counted, named by line and field, and never queued', async () => {
    const s = await open('corrupt');
    const good = ticket('good', now);
    await s.transact('subnet-0a', now, () => ({ observation: obs(), putTickets: [good], result: 0 }));
    await s.close();
    const path = join(dir, 'corrupt', LOG_FILE);
    await appendFile(
      path,
      [
        JSON.stringify({ t: 'tkt', k: { ...ticket('zz', now), workers: 'zz' } }),
        JSON.stringify({ t: 'tkt', k: { ...ticket('other', now), subnetId: 'subnet-0b' } }),
        JSON.stringify({ t: 'tkd', id: good.id, at: 'yesterday' }),
        '',
      ].join('\n'),
    );
    const { logger, lines } = captureLogger();
    const r = await FileStore.open({ dataDir: join(dir, 'corrupt'), clock, logger });
    expect(r.openReport).toMatchObject({ rejected: 3, skipped: 3 });
    // The bad drop did not drop the good ticket; the bad puts are not queued.
    expect(await r.tickets('subnet-0a', now)).toEqual([good]);
    expect(r.peekTickets('subnet-0b')).toBeUndefined();
    expect(lines.filter((l) => l.msg === 'admission log: invalid record set aside').map((l) => l.field)).toEqual(['k.workers', 'k.id', 'at']);
    const aside = (await readFile(`${path}.rejected`, 'utf8')).trimEnd().split('\n');
    expect(aside).toHaveLength(3);
    expect((JSON.parse(aside[0]) as { text: string }).text).toContain('"workers":"zz"');
    await r.close();
  });

  it(`caps live tickets at ${MAX_TICKETS_PER_SUBNET} per subnet: one more is refused with QueueFullError; replacing or dropping still works`, async () => {
    const s = await open('cap');
    const all = Array.from({ length: MAX_TICKETS_PER_SUBNET }, (_, i) =>
      ticket(`run-${i}`, now, { id: `subnet-0a.t.${i.toString(16).padStart(16, '0')}` }),
    );
    await s.transact('subnet-0a', now, () => ({ observation: obs(), putTickets: all, result: 0 }));
    const bytes = s.storeBytes();
    const extra = ticket('one-more', now, { id: 'subnet-0a.t.ffffffffffffffff' });
    const err = await s.transact('subnet-0a', now, () => ({ observation: obs(), putTickets: [extra], result: 0 })).catch((e: Error) => e);
    expect(err).toBeInstanceOf(QueueFullError);
    expect((err as QueueFullError).status).toBe(503);
    expect((err as Error).message).toMatch(/queue of subnet-0a is full: 10000 live tickets, the file store keeps at most 10000 per subnet/);
    expect(s.storeBytes()).toBe(bytes);
    // Another subnet has its own queue.
    await s.transact('subnet-0b', now, () => ({
      observation: obs({ subnetId: 'subnet-0b' }),
      putTickets: [ticket('b', now, { subnetId: 'subnet-0b' })],
      result: 0,
    }));
    // A re-poke replaces; a drop makes room for one more.
    await s.transact('subnet-0a', now, () => ({ observation: obs(), putTickets: [{ ...all[0], lastPokeAt: now + 1 }], result: 0 }));
    await s.transact('subnet-0a', now, () => ({ observation: obs(), putTickets: [extra], dropTickets: [all[1].id], result: 0 }));
    expect(await s.tickets('subnet-0a', now)).toHaveLength(MAX_TICKETS_PER_SUBNET);
    // Expired tickets do not count.
    const later = all[0].expiresAt + 1;
    await s.transact('subnet-0a', later, () => ({ observation: obs({ observedAt: later }), putTickets: [ticket('fresh', later)], result: 0 }));
    expect(await s.tickets('subnet-0a', later)).toHaveLength(1);
    await s.close();
  }, 30_000);

  it('steps racing on one subnet end with one consistent queue: each ticket admitted once, none lost, the same after a restart', async () => {
    const s = await open('race');
    const budget = 30;
    const keys = Array.from({ length: 12 }, (_, i) => `run-${i}`);
    const admitted: string[] = [];
    // Every key pokes 6 times, all of one round in the same tick (one group commit): a poke enqueues its key,
    // and admits the queue head while the budget allows; an admitted key's ticket is dropped with its reservation.
    for (let round = 0; round < 6; round++) {
      const t = now + round * 60_000;
      await Promise.all(
        keys.map((key) =>
          s.transact('subnet-0a', t, ({ reservations, tickets }) => {
            const mine = tickets.find((x) => x.key === key) ?? ticket(key, t, { enqueuedAt: t + keys.indexOf(key) });
            const reserved = reservations.filter((r) => r.expiresAt > t).reduce((sum, r) => sum + r.workers, 0);
            const head = [...tickets, mine].sort((a, b) => a.enqueuedAt - b.enqueuedAt)[0];
            const already = reservations.some((r) => r.dagRunId === key);
            if (already) return { observation: obs({ observedAt: t }), result: 'done' };
            if (head.key === key && reserved + mine.workers <= budget) {
              admitted.push(key);
              const id = `subnet-0a.${(0x10000000 + admitted.length).toString(16)}`;
              return {
                observation: obs({ observedAt: t, decision: 'admit' }),
                add: reservation(id, t, { dagRunId: key, expiresAt: t + 3_600_000, retainUntil: t + 3_600_000 }),
                dropTickets: [mine.id],
                result: 'admit',
              };
            }
            return { observation: obs({ observedAt: t }), putTickets: [{ ...mine, lastPokeAt: t, expiresAt: t + 180_000 }], result: 'wait' };
          }),
        ),
      );
    }
    expect(new Set(admitted).size).toBe(admitted.length);
    expect(admitted).toEqual(['run-0', 'run-1', 'run-2']);
    const end = now + 5 * 60_000;
    const queue = (await s.tickets('subnet-0a', end)).map((x) => x.key).sort();
    expect(queue).toEqual(keys.filter((k) => !admitted.includes(k)).sort());
    await s.close();
    const r = await open('race');
    expect((await r.tickets('subnet-0a', end)).map((x) => x.key).sort()).toEqual(queue);
    expect((await r.reservations('subnet-0a', end)).map((x) => x.dagRunId).sort()).toEqual(admitted.sort());
    await r.close();
  });
});

describe('FileStore tickets under ulimit -f', () => {
  // The built store in a child process whose file size limit makes every write past it fail with EFBIG.
  const built = join(process.cwd(), 'dist/store/file.js');

  it('EFBIG: every ticket acknowledged is read back after a restart; a refused one is in neither memory nor the log', async () => {
    if (!existsSync(built)) throw new Error(`${built} is missing: run npm run build`);
    const dataDir = join(dir, 'efbig');
    const script = `
      import { FileStore } from ${JSON.stringify(built)};
      const logger = { warn() {}, error() {}, info() {} };
      const now = ${now};
      const s = await FileStore.open({ dataDir: ${JSON.stringify(dataDir)}, clock: { now: () => now }, logger, historyBytes: 1 << 20 });
      const acked = [], refused = [];
      for (let i = 0; refused.length < 10 && i < 5000; i++) {
        const id = 'subnet-0a.t.' + i.toString(16).padStart(16, '0');
        const t = { id, subnetId: 'subnet-0a', key: 'run-' + i + '-' + 'x'.repeat(100), workers: 2, enqueuedAt: now, lastPokeAt: now, expiresAt: now + 3600000 };
        const observation = { subnetId: 'subnet-0a', observedAt: now, uniq: 'e' + i, totalEnis: 1, inUse: 1, available: 0, decision: 'wait', expiresAt: now + 86400000 };
        try {
          await s.transact('subnet-0a', now, () => ({ observation, putTickets: [t], result: 0 }));
          acked.push(id);
        } catch (err) {
          refused.push({ id, message: err.message });
        }
      }
      const memory = (await s.tickets('subnet-0a', now)).map((t) => t.id);
      console.log(JSON.stringify({ acked, refused, memory }));
      process.exit(0);
    `;
    const out = spawnSync('bash', ['-c', 'ulimit -f 64 && exec "$0" --input-type=module -e "$1"', process.execPath, script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(out.status, out.stderr).toBe(0);
    const { acked, refused, memory } = JSON.parse(out.stdout.trim().split('\n').pop() ?? '{}') as {
      acked: string[];
      refused: { id: string; message: string }[];
      memory: string[];
    };
    expect(acked.length).toBeGreaterThan(50);
    expect(refused).toHaveLength(10);
    expect(refused[0].message).toMatch(/EFBIG|file too large/i);
    expect(memory.sort()).toEqual([...acked].sort());
    const r = await open('efbig');
    expect(r.openReport).toMatchObject({ tornTail: false, rejected: 0 });
    expect((await r.tickets('subnet-0a', now)).map((t) => t.id).sort()).toEqual([...acked].sort());
    await r.close();
  }, 90_000);
});
