import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { EniView } from '../snapshot/types.js';
import type { Reservation } from './types.js';
import { BypassMemory, bypassHorizonMs, learnedMargin } from './bypass.js';
import { eni } from '../../test/helpers/world.js';
import * as records from '../../test/helpers/records.js';

const S = 'subnet-0a1';
const MIN = 60_000;
const T = Date.UTC(2026, 3, 6);
const WEEK = bypassHorizonMs(7);

const reservation = (workers: number, createdAt: number): Reservation =>
  records.reservation(`${S}.r${createdAt}`, createdAt, { subnetId: S, workers });

/** A Glue ENI attached at `at` (or not yet, when undefined). */
const glue = (id: string, at?: number): EniView => eni(id, 'in-use', at);

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function memory(file?: string): BypassMemory {
  return new BypassMemory({ intervalSeconds: () => 60, ...(file ? { file } : {}) });
}

describe('BypassMemory', () => {
  it('counts new ENIs no reservation claims, and not those an admission reserved', () => {
    const m = memory();
    const base = [glue('e0', T - 90 * MIN), eni('o0', 'in-use', T - 90 * MIN, 'other')];
    m.observe(S, T, base, [], WEEK); // watching begins: nothing present is classified
    expect(m.history(S)).toEqual({ watchedMs: 0, events: [], totalAddresses: 0, lastSampleAt: T });

    // An admission for 2 workers at T+30 s; its 2 ENIs and a third nobody reserved attach before the next sample.
    const ledger = [reservation(2, T + 30_000)];
    const next = [...base, glue('g1', T + 40_000), glue('g2', T + 41_000), glue('x1', T + 42_000)];
    expect(m.unclassified(S, next).map((e) => e.id)).toEqual(['g1', 'g2', 'x1']);
    m.observe(S, T + MIN, next, ledger, WEEK);
    expect(m.history(S)).toMatchObject({ watchedMs: MIN, events: [{ at: T + MIN, addresses: 1 }], totalAddresses: 1 });

    // Classified once: the same ENIs in the next sample add watched time only. A non-Glue ENI holding 3
    // addresses (e.g. a Lambda) is a bypass too.
    const lambda: EniView = { ...eni('l1', 'in-use', undefined, 'other'), addresses: 3 };
    m.observe(S, T + 2 * MIN, next, ledger, WEEK);
    m.observe(S, T + 3 * MIN, [...next, lambda], [], WEEK);
    expect(m.history(S)).toMatchObject({ watchedMs: 3 * MIN, totalAddresses: 4 });
    expect(m.history(S)?.events).toEqual([
      { at: T + MIN, addresses: 1 },
      { at: T + 3 * MIN, addresses: 3 },
    ]);
  });

  it('waits for a Glue ENI to attach before judging it (only attached ENIs can match a reservation)', () => {
    const m = memory();
    m.observe(S, T, [], [], WEEK);
    const ledger = [reservation(1, T + 10_000)];
    m.observe(S, T + MIN, [glue('g1')], ledger, WEEK); // created, not attached yet
    expect(m.history(S)?.totalAddresses).toBe(0);
    expect(m.isSettled(S)).toBe(false);
    m.observe(S, T + 2 * MIN, [glue('g1', T + 65_000)], ledger, WEEK);
    expect(m.history(S)?.totalAddresses).toBe(0);
    expect(m.isSettled(S)).toBe(true);
    expect(m.unclassified(S, [glue('g1', T + 65_000)])).toEqual([]);
  });

  it('classifies nothing after a gap, a restart or an unreadable ledger, and does not count that time as watched', () => {
    const m = memory();
    m.observe(S, T, [], [], WEEK);
    m.observe(S, T + MIN, [], [], WEEK);
    // 5 minutes without a sample (> 3 intervals): whatever appeared meanwhile cannot be judged.
    m.observe(S, T + 6 * MIN, [glue('x1', T + 2 * MIN)], [], WEEK);
    expect(m.history(S)).toMatchObject({ watchedMs: MIN, totalAddresses: 0 });
    // The ledger could not be read: a gap too.
    m.observe(S, T + 7 * MIN, [glue('x1', T + 2 * MIN), glue('x2', T + 6.5 * MIN)], undefined, WEEK);
    expect(m.history(S)).toMatchObject({ watchedMs: MIN, totalAddresses: 0 });
    // Back to normal: the next new ENI is judged, and the minute counts.
    m.observe(S, T + 8 * MIN, [glue('x1', T + 2 * MIN), glue('x2', T + 6.5 * MIN), glue('x3', T + 7.5 * MIN)], [], WEEK);
    expect(m.history(S)).toMatchObject({ watchedMs: 2 * MIN, totalAddresses: 1 });
  });

  it('forgets bypasses older than the horizon but keeps the total', () => {
    const m = memory();
    const horizon = 10 * MIN;
    const enis: EniView[] = [];
    m.observe(S, T, enis, [], horizon);
    for (let i = 1; i <= 15; i++) {
      enis.push(glue(`x${i}`, T + i * MIN - 1000));
      m.observe(S, T + i * MIN, [...enis], [], horizon);
    }
    const h = m.history(S)!;
    expect(h.totalAddresses).toBe(15);
    expect(h.events.map((e) => (e.at - T) / MIN)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  });

  it('persists across a restart, and sets a bad record and an unreadable file aside', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bypass-'));
    dirs.push(dir);
    const file = join(dir, 'bypass.json');
    const a = memory(file);
    a.observe(S, T, [], [], WEEK);
    a.observe(S, T + MIN, [glue('x1', T + 30_000)], [], WEEK);
    await a.save();
    const b = memory(file);
    expect(b.load()).toBeUndefined();
    expect(b.history(S)).toMatchObject({ watchedMs: MIN, totalAddresses: 1, events: [{ at: T + MIN, addresses: 1 }] });
    // After a restart the first sample only re-learns what is present: no double count, no watched time.
    b.observe(S, T + 2 * MIN, [glue('x1', T + 30_000), glue('x2', T + 90_000)], [], WEEK);
    expect(b.history(S)).toMatchObject({ watchedMs: MIN, totalAddresses: 1 });

    writeFileSync(file, '{"version":1,"subnets":');
    expect(memory(file).load()).toMatch(/^gate-bypass memory unreadable \(.*JSON.*\); set aside and starting fresh$/);
    expect(readdirSync(dir).filter((f) => f.startsWith('bypass.json.corrupt-'))).toHaveLength(1);

    writeFileSync(file, JSON.stringify({ version: 1, subnets: { [S]: { watchedMs: 'a lot' } } }));
    const c = memory(file);
    expect(c.load()).toMatch(
      /^gate-bypass memory: set aside 1 bad record\(s\), kept the rest \(original kept as bypass\.json\.corrupt-\d+\): subnets\.subnet-0a1 \(watchedMs\): .*expected number/,
    );
    expect(c.history(S)).toBeUndefined();
    c.observe(S, T, [], [], WEEK);
    await c.save();
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      version: 1,
      subnets: { [S]: { watchedMs: 0, events: [], totalAddresses: 0, lastSampleAt: T } },
    });
  });
  it('saves off the event loop: saves asked for together write the newest state once; a failed save is written by the next', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bypass-'));
    dirs.push(dir);
    // bypass.json in a "directory" that is a file: the write fails until it is removed.
    const blocker = join(dir, 'data');
    writeFileSync(blocker, '');
    const file = join(blocker, 'bypass.json');
    const m = memory(file);
    m.observe(S, T, [], [], WEEK);
    await expect(m.save()).rejects.toThrow(/ENOTDIR|EEXIST/);
    rmSync(blocker);
    // Nothing observed since: the failed state is still to be written.
    await m.save();
    expect(JSON.parse(readFileSync(file, 'utf8')).subnets[S]).toMatchObject({ lastSampleAt: T });

    m.observe(S, T + MIN, [], [], WEEK);
    const first = m.save();
    m.observe(S, T + 2 * MIN, [], [], WEEK);
    const second = m.save();
    await Promise.all([first, second]);
    expect(JSON.parse(readFileSync(file, 'utf8')).subnets[S]).toMatchObject({ watchedMs: 2 * MIN, lastSampleAt: T + 2 * MIN });
    expect(readdirSync(join(dir, 'data'))).toEqual(['bypass.json']);
  });
});

describe('BypassMemory at scale, in slices', () => {
  // The classification as it was written in one piece: a pass for the newcomers, another for the ids kept.
  const reference = {
    unclassified: (known: Set<string> | undefined, enis: readonly EniView[]) =>
      known ? enis.filter((e) => !known.has(e.id) && (e.owner !== 'glue' || e.attachTime !== undefined)) : [],
    next(known: Set<string> | undefined, enis: readonly EniView[], contiguous: boolean) {
      const next = new Set<string>();
      for (const e of enis) {
        if (known?.has(e.id) || e.owner !== 'glue' || e.attachTime !== undefined || !contiguous) next.add(e.id);
      }
      return next;
    },
  };
  const N = 20_000;
  /** Sample k: N standing ENIs (some gone after sample 2), and per sample new ones: attached, waiting, not Glue's. */
  function sample(k: number): EniView[] {
    const list: EniView[] = [];
    for (let i = 0; i < N; i++) if (k < 3 || i % 11 !== 0) list.push(glue(`s${i}`, T - 90 * MIN));
    for (let j = 1; j <= k; j++) {
      for (let i = 0; i < 30; i++) {
        // Waiting to attach in the sample that first shows it, attached in the next.
        const attached = j < k || i % 3 !== 0;
        list.push(
          i % 5 === 0 ? eni(`o${j}.${i}`, 'in-use', undefined, 'other') : glue(`g${j}.${i}`, attached ? T + (j - 1) * MIN + 1_000 + i : undefined),
        );
      }
    }
    return list;
  }
  // The times samples are taken, a gap (5 minutes) before the 5th, the ledger unreadable at the 6th.
  const times = [0, 1, 2, 3, 8, 9, 10].map((m) => T + m * MIN);
  const ledgerAt = (k: number) => (k === 5 ? undefined : Array.from({ length: 40 }, (_, i) => reservation(1, T + i * 1_000)));

  it('gives what the one-piece classification gave: the same newcomers, ids kept and history', () => {
    const sliced = memory();
    const whole = memory();
    let known: Set<string> | undefined;
    let lastAt: number | undefined;
    for (const [k, at] of times.entries()) {
      const enis = sample(k);
      const ledger = ledgerAt(k);
      // A slice at a time, as the housekeeping runs it.
      const steps = sliced.scanSteps(S, enis);
      let slices = 1;
      let r = steps.next();
      for (; !r.done; r = steps.next()) slices++;
      expect(slices).toBeGreaterThan(N / 1_000);
      const scan = r.value;
      expect(scan.newcomers.map((e) => e.id)).toEqual(reference.unclassified(known, enis).map((e) => e.id));
      expect(sliced.observe(S, at, enis, ledger, WEEK, scan)).toBe(whole.observe(S, at, enis, ledger, WEEK));
      const contiguous = known !== undefined && lastAt !== undefined && at - lastAt <= 3 * MIN;
      known = reference.next(known, enis, contiguous);
      lastAt = at;
      expect(sliced.history(S)).toEqual(whole.history(S));
      // What is known now: every id seen so far, attached, asked about.
      const probe = times
        .slice(0, k + 1)
        .flatMap((_, j) => sample(j))
        .map((e) => ({ ...e, attachTime: e.attachTime ?? at }));
      const unknown = reference.unclassified(known, probe).map((e) => e.id);
      expect(sliced.unclassified(S, probe).map((e) => e.id)).toEqual(unknown);
      expect(whole.unclassified(S, probe).map((e) => e.id)).toEqual(unknown);
    }
    // The samples did classify: bypasses counted (the ENIs not Glue's, Glue's beyond the 40 reserved), a gap skipped.
    expect(sliced.history(S)?.totalAddresses).toBeGreaterThan(0);
    expect(sliced.history(S)?.watchedMs).toBe(4 * MIN);
  });

  it('a scan made before another sample was observed is made again', () => {
    const m = memory();
    m.observe(S, T, sample(0), [], WEEK);
    const second = sample(1);
    const steps = m.scanSteps(S, second);
    let r = steps.next();
    while (!r.done) r = steps.next();
    expect(r.value.newcomers.length).toBeGreaterThan(0);
    m.observe(S, T + MIN, second, [], WEEK);
    // The scan of the same list, made when less was known, is not used: its newcomers are not counted twice.
    expect(m.observe(S, T + 2 * MIN, second, [], WEEK, r.value)).toBe(0);
    expect(m.unclassified(S, second)).toEqual([]);
  });
});

describe('BypassMemory load', () => {
  it('sets each bad subnet record aside (wrong types, strings, negative times, disorder, huge arrays) and keeps the good', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bypass-'));
    dirs.push(dir);
    const file = join(dir, 'bypass.json');
    const good = { watchedMs: WEEK, events: [{ at: T, addresses: 3 }], totalAddresses: 3, lastSampleAt: T };
    const sub = (n: number) => `subnet-0b${n}`;
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        subnets: {
          [S]: good,
          [sub(1)]: { ...good, totalAddresses: '3' },
          [sub(2)]: { ...good, lastSampleAt: -1 },
          [sub(3)]: {
            ...good,
            events: [
              { at: T, addresses: 1 },
              { at: T - MIN, addresses: 1 },
            ],
          },
          // One event per minute over 90 days is the most there can be: more is forged.
          [sub(4)]: { ...good, events: Array.from({ length: 130_000 }, (_, i) => ({ at: T + i, addresses: 1 })) },
          [sub(5)]: { ...good, events: [{ at: 'soon', addresses: 1 }] },
          [sub(6)]: null,
        },
      }),
    );
    const m = memory(file);
    const note = m.load() ?? '';
    expect(note).toMatch(/^gate-bypass memory: set aside 6 bad record\(s\), kept the rest/);
    for (const named of [
      `subnets.${sub(1)} (totalAddresses)`,
      `subnets.${sub(2)} (lastSampleAt): expected a time in epoch ms, not negative`,
      `subnets.${sub(3)} (events): expected events in time order`,
      `subnets.${sub(4)} (events): expected at most 129601 events`,
      `subnets.${sub(5)} (events.0.at)`,
      `subnets.${sub(6)}: Invalid input`,
    ]) {
      expect(note).toContain(named);
    }
    expect(m.history(S)).toEqual(good);
    for (let n = 1; n <= 6; n++) expect(m.history(sub(n))).toBeUndefined();
    expect(learnedMargin(m.history(S), T + MIN, WEEK, 2 * MIN)).toEqual({ learned: true, margin: 3, watchedMs: WEEK });

    writeFileSync(file, JSON.stringify({ version: 1, subnets: null }));
    expect(memory(file).load()).toMatch(/: subnets: expected an object of records, got null$/);
  });
});

describe('learnedMargin', () => {
  it('is not learned until the horizon was watched, then the most bypass addresses within the exposure', () => {
    const h = { watchedMs: WEEK - 1, events: [{ at: T, addresses: 4 }], totalAddresses: 4 };
    expect(learnedMargin(undefined, T, WEEK, 2 * MIN)).toEqual({ learned: false, margin: 0, watchedMs: 0 });
    expect(learnedMargin(h, T, WEEK, 2 * MIN)).toEqual({ learned: false, margin: 0, watchedMs: WEEK - 1 });
    const watched = {
      ...h,
      watchedMs: WEEK,
      events: [
        { at: T - 3 * MIN, addresses: 4 },
        { at: T - 2 * MIN, addresses: 2 },
        { at: T, addresses: 5 },
      ],
    };
    expect(learnedMargin(watched, T, WEEK, 2 * MIN)).toMatchObject({ learned: true, margin: 6 });
    expect(learnedMargin(watched, T, WEEK, 4 * MIN)).toMatchObject({ learned: true, margin: 11 });
    expect(learnedMargin(watched, T + WEEK - 1, WEEK, 2 * MIN)).toMatchObject({ learned: true, margin: 5 });
    expect(learnedMargin(watched, T + WEEK, WEEK, 2 * MIN)).toMatchObject({ learned: true, margin: 0 });
  });

  it('answers as a fresh sliding window over the events in the horizon, asked again as events come and time passes', () => {
    // The reference: the events in (now - horizon, now] listed anew, one pass with the window.
    const reference = (events: { at: number; addresses: number }[], now: number, horizon: number, exposure: number): number => {
      const recent = events.filter((e) => e.at > now - horizon && e.at <= now);
      let best = 0;
      for (const e of recent)
        best = Math.max(
          best,
          recent.filter((x) => x.at > e.at - exposure && x.at <= e.at).reduce((n, x) => n + x.addresses, 0),
        );
      return best;
    };
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 9 })), { maxLength: 40 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.boolean()), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 6 }),
        (steps, asks, exposureMin) => {
          // One history whose list grows in place, as BypassMemory's does, asked at times moving back and forth.
          const h = { watchedMs: WEEK, events: [] as { at: number; addresses: number }[], totalAddresses: 0 };
          let at = T;
          let next = 0;
          for (const [dtMin, grow] of asks) {
            if (grow && next < steps.length) {
              const [gap, addresses] = steps[next++];
              at += gap * MIN;
              h.events.push({ at, addresses });
            }
            const now = at + (dtMin - 10) * MIN;
            const got = learnedMargin(h, now, 30 * MIN, exposureMin * MIN);
            expect(got.margin).toBe(reference(h.events, now, 30 * MIN, exposureMin * MIN));
          }
        },
      ),
    );
  });
});
