import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EniView } from '../snapshot/types.js';
import { isLive, type Reservation } from './types.js';
import { eni } from '../../test/helpers/world.js';
import { attachIndex, claims, reservedWorkers, unseenWorkers, type AccountedEni } from './reservations.js';
import { reservation } from '../../test/helpers/records.js';

const res = (id: string, createdAt: number, workers: number, extra: Partial<Reservation> = {}): Reservation =>
  reservation(id, createdAt, { workers, ...extra });

describe('coverage', () => {
  it('apportions Glue ENIs attached after creation, oldest reservation first', () => {
    const enis = [
      eni('e-old', 'in-use', 50), // before both: nobody's
      ...Array.from({ length: 12 }, (_, i) => eni(`e${i}`, 'in-use', 200 + i)),
      eni('e-other', 'in-use', 250, 'other'),
    ];
    const cov = claims([res('b', 150, 10), res('a', 100, 10)], enis).perReservation;
    expect(cov.get('a')).toBe(10);
    expect(cov.get('b')).toBe(2);
    const sum = reservedWorkers([res('a', 100, 10), res('b', 150, 10)], enis, 1000);
    expect(sum.reserved).toBe(8);
    expect(sum.consumed.map((r) => r.id)).toEqual(['a']);
  });

  it('closed reservations keep claiming their ENIs but reserve nothing', () => {
    const enis = Array.from({ length: 10 }, (_, i) => eni(`e${i}`, 'in-use', 200 + i));
    const all = [res('a', 100, 10, { closed: 'consumed', closedAt: 300 }), res('b', 150, 10)];
    expect(reservedWorkers(all, enis, 1000).reserved).toBe(10);
  });

  it('expired reservations reserve nothing', () => {
    expect(reservedWorkers([res('a', 0, 10)], [], 300_000).reserved).toBe(0);
    expect(reservedWorkers([res('a', 0, 10)], [], 299_999).reserved).toBe(10);
  });
});

// The accounting as it was first written: every call sorts the Glue ENIs and scans them once per reservation.
// Kept as the reference the indexed, incremental accounting must match exactly.
const reference = {
  claims(reservations: readonly Reservation[], enis: readonly AccountedEni[]) {
    const perReservation = new Map<string, number>();
    const claimed = new Set<string>();
    const attached = enis
      .filter((e) => e.owner === 'glue' && e.attachTime !== undefined)
      .sort((a, b) => (a.attachTime as number) - (b.attachTime as number));
    const ordered = [...reservations].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    for (const r of ordered) {
      let covered = 0;
      for (let i = 0; i < attached.length && covered < r.workers; i++) {
        const e = attached[i];
        if (!claimed.has(e.id) && (e.attachTime as number) >= r.createdAt) {
          claimed.add(e.id);
          covered++;
        }
      }
      perReservation.set(r.id, covered);
    }
    return { perReservation, claimed };
  },
  reservedWorkers(reservations: readonly Reservation[], enis: readonly AccountedEni[], now: number) {
    const cov = reference.claims(reservations, enis).perReservation;
    let reserved = 0;
    const consumed: Reservation[] = [];
    const live: Reservation[] = [];
    for (const r of reservations) {
      if (!isLive(r, now)) continue;
      const left = Math.max(0, r.workers - (cov.get(r.id) ?? 0));
      if (left === 0) consumed.push(r);
      else live.push(r);
      reserved += left;
    }
    return { reserved, consumed, live };
  },
  unseenWorkers(reservations: readonly Reservation[], enis: readonly AccountedEni[], now: number) {
    const cov = reference.claims(reservations, enis).perReservation;
    let unseen = 0;
    for (const r of reservations) if (!isLive(r, now) && r.closed === undefined) unseen += Math.max(0, r.workers - (cov.get(r.id) ?? 0));
    return unseen;
  },
};

/** Maps compared by content (insertion order is not part of the contract). */
const sorted = <V>(m: ReadonlyMap<string, V>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

function expectSameAccounting(ledger: readonly Reservation[], enis: readonly AccountedEni[], now: number): void {
  const want = reference.claims(ledger, enis);
  const got = claims(ledger, enis);
  expect(sorted(got.perReservation)).toEqual(sorted(want.perReservation));
  expect([...got.claimed].sort()).toEqual([...want.claimed].sort());
  expect(unseenWorkers(ledger, enis, now)).toBe(reference.unseenWorkers(ledger, enis, now));
  const w = reference.reservedWorkers(ledger, enis, now);
  const g = reservedWorkers(ledger, enis, now);
  expect(g.reserved).toBe(w.reserved);
  expect(g.consumed.map((r) => r.id)).toEqual(w.consumed.map((r) => r.id));
  expect(g.live.map((r) => r.id)).toEqual(w.live.map((r) => r.id));
}

// Small time and worker ranges so that ties, ENIs attached before a reservation and partial coverage are common.
const eniArb = (i: number) =>
  fc
    .record({
      owner: fc.constantFrom<'glue' | 'other'>('glue', 'glue', 'glue', 'other'),
      attachTime: fc.option(fc.integer({ min: 0, max: 30 }), { freq: 5 }),
      nan: fc.integer({ min: 0, max: 60 }),
    })
    .map(({ owner, attachTime, nan }): EniView => {
      // Now and then an attach time that does not compare (NaN): the order must stay the reference's too.
      const t = nan === 0 ? Number.NaN : (attachTime ?? undefined);
      return eni(`eni-${i.toString().padStart(3, '0')}`, 'in-use', t, owner);
    });
const enisArb = fc.integer({ min: 0, max: 40 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => eniArb(i))));

type Step =
  | { k: 'young'; workers: number; dt: number; closed: boolean }
  | { k: 'any'; workers: number; at: number }
  | { k: 'drop'; i: number }
  | { k: 'close'; i: number }
  | { k: 'reorder' }
  | { k: 'copy-list' }
  | { k: 'new-list'; enis: EniView[] }
  | { k: 'repeat-id'; i: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant('young' as const),
      workers: fc.integer({ min: 1, max: 5 }),
      dt: fc.integer({ min: 0, max: 3 }),
      closed: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant('any' as const), workers: fc.integer({ min: 1, max: 5 }), at: fc.integer({ min: 0, max: 30 }) }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('drop' as const), i: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('close' as const), i: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('reorder' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('copy-list' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('new-list' as const), enis: enisArb }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('repeat-id' as const), i: fc.nat() }) },
);

describe('indexed accounting against the reference (property)', () => {
  it('gives what sorting and scanning every ENI per reservation gives, as ledgers grow, shrink and snapshots change', () => {
    fc.assert(
      fc.property(enisArb, fc.array(stepArb, { maxLength: 30 }), fc.integer({ min: 0, max: 40 }), (initial, steps, nowAt) => {
        let enis: readonly EniView[] = initial;
        let ledger: Reservation[] = [];
        let n = 0;
        let clock = 0;
        const now = nowAt * 10_000;
        const ttl = (at: number) => ({ expiresAt: at + 100_000 });
        expectSameAccounting(ledger, enis, now);
        for (const s of steps) {
          switch (s.k) {
            case 'young':
              clock += s.dt;
              ledger = [
                ...ledger,
                res(`r${(n++).toString(36)}`, clock, s.workers, { ...ttl(clock * 10_000), ...(s.closed ? { closed: 'released' as const } : {}) }),
              ];
              break;
            case 'any':
              ledger = [...ledger, res(`r${(n++).toString(36)}`, s.at, s.workers, ttl(s.at * 10_000))];
              break;
            case 'drop':
              if (ledger.length > 0) ledger = ledger.filter((_, i) => i !== s.i % ledger.length);
              break;
            case 'close':
              // In place, as the backtest marks consumed reservations.
              if (ledger.length > 0) ledger[s.i % ledger.length].closed = 'consumed';
              break;
            case 'reorder':
              ledger = [...ledger].reverse();
              break;
            case 'copy-list':
              // The same ENIs in a new list (a new snapshot of an unchanged subnet), ledger objects copied (DynamoDB).
              enis = [...enis];
              ledger = ledger.map((r) => ({ ...r }));
              break;
            case 'new-list':
              enis = s.enis;
              break;
            case 'repeat-id':
              if (ledger.length > 0) ledger = [...ledger, { ...ledger[s.i % ledger.length], createdAt: clock + 1 }];
              break;
          }
          expectSameAccounting(ledger, enis, now);
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('cost per decision', () => {
  /**
   * A list of Glue ENIs attached before any reservation that counts every read of one of its elements, and
   * throws once `reads.limit` is passed (so that an accounting that scans per decision fails fast, not slowly).
   */
  function countedEnis(count: number) {
    const list = Array.from({ length: count }, (_, i) => eni(`eni-${i.toString(16).padStart(8, '0')}`, 'in-use', 1_000 + (i % 500)));
    const reads = { n: 0, limit: Number.POSITIVE_INFINITY };
    const proxy = new Proxy(list, {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key) && ++reads.n > reads.limit) {
          throw new Error(`ENI list read during a decision (${reads.n - reads.limit} reads over the limit)`);
        }
        return Reflect.get(target, key, receiver);
      },
    });
    return { enis: proxy as readonly EniView[], reads };
  }

  /** 1,000 live reservations, then 200 decisions that each add one: ENI reads and index visits per decision. */
  function decide(count: number) {
    const { enis, reads } = countedEnis(count);
    const ledger = Array.from({ length: 1_000 }, (_, i) => res(`r-${i}`, 10_000 + i, 1 + (i % 3)));
    const now = 20_000;
    reservedWorkers(ledger, enis, now); // the first decision on a snapshot indexes it (the service does so on arrival)
    const readsBefore = reads.n;
    reads.limit = reads.n;
    const visitsBefore = attachIndex(enis).visits;
    let reserved = 0;
    for (let i = 0; i < 200; i++) {
      ledger.push(res(`r-new-${i}`, now + i, 5));
      reserved = reservedWorkers(ledger, enis, now + i).reserved;
    }
    return { reads: (reads.n - readsBefore) / 200, visits: (attachIndex(enis).visits - visitsBefore) / 200, reserved };
  }

  it('no decision reads the ENI list, and the accounting work per decision does not grow with the ENIs', () => {
    const small = decide(1_000);
    const large = decide(50_000);
    // Every ENI attached before every reservation: nothing covered, everything reserved.
    expect(large.reserved).toBe(small.reserved);
    expect(small.reads).toBe(0);
    expect(large.reads).toBe(0);
    // A binary search (log2 50,000 < 16 steps) for the one new reservation: not 1,000 × 50,000 visits.
    expect(large.visits).toBeLessThanOrEqual(16);
    expect(large.visits - small.visits).toBeLessThanOrEqual(6);
  });

  it('a snapshot is indexed once: reads of its ENI list do not grow with the decisions made on it', () => {
    const { enis, reads } = countedEnis(5_000);
    const ledger = [res('a', 900, 10)];
    for (let i = 0; i < 50; i++) reservedWorkers([...ledger, res(`b${i}`, 1_000 + i, 1)], enis, 2_000);
    expect(reads.n).toBe(5_000);
  });

  it('the same ledger asked again is answered again; a ledger that changed gets its own, right answer', () => {
    const enis = Array.from({ length: 30 }, (_, i) => eni(`eni-${i}`, 'in-use', 1_000 + 10 * i));
    // `a` and `b` expired by `now` (their ENIs count as unseen until they show up), `c` live.
    const now = 5_000;
    const expired = { expiresAt: 2_000 };
    const ledger = [res('a', 995, 6, expired), res('b', 1_095, 3, expired)];
    const check = (l: readonly Reservation[]) => {
      expect(unseenWorkers(l, enis, now)).toBe(reference.unseenWorkers(l, enis, now));
      expect(reservedWorkers(l, enis, now).reserved).toBe(reference.reservedWorkers(l, enis, now).reserved);
    };
    // a claims the 6 ENIs attached from 1,000 on (1,000-1,050), b the 3 from 1,100: nothing unseen.
    expect(unseenWorkers(ledger, enis, now)).toBe(0);
    check(ledger);
    // A copy of the list holding the same reservations (as the store hands them over at each decision).
    check([...ledger]);
    const grown = [...ledger, res('c', 1_195, 2)];
    check(grown);
    // Same ids, another reservation object with more workers than attached after it: not the answer of before.
    const changed = [res('a', 995, 40, expired), ledger[1]];
    expect(unseenWorkers(changed, enis, now)).toBe(reference.unseenWorkers(changed, enis, now));
    expect(unseenWorkers(changed, enis, now)).toBeGreaterThan(0);
    check(changed);
    check(ledger);
    // Closed in place (as the store closes a released one): no longer unseen, though it keeps claiming its ENIs.
    // a claims all 30 ENIs (10 of its 40 unseen) and leaves b none (3 unseen).
    const closing = [res('a', 995, 40, expired), res('b', 1_095, 3, expired)];
    expect(unseenWorkers(closing, enis, now)).toBe(13);
    closing[0].closed = 'released';
    expect(unseenWorkers(closing, enis, now)).toBe(3);
    expect(reference.unseenWorkers(closing, enis, now)).toBe(3);
  });
});

describe('the claim order of a large snapshot', () => {
  /** A seeded generator (a test that fails must fail again the same way). */
  const random = (seed: number) => () => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    return seed / 2 ** 32;
  };
  const T = Date.UTC(2026, 3, 6);
  /** 30,000 ENIs in id order, as pages list them, with attach times from `time` (ties many), a tenth not Glue's. */
  const snapshot = (time: (i: number) => number | undefined): EniView[] =>
    Array.from({ length: 30_000 }, (_, i) => eni(`eni-${String(i).padStart(6, '0')}`, 'in-use', time(i), i % 10 === 3 ? 'other' : 'glue'));
  const rnd = random(7);
  const cases: [string, EniView[]][] = [
    ['attached together (already in order)', snapshot(() => T)],
    ['attached in id order', snapshot((i) => T + Math.floor(i / 7))],
    ['integer times in no order, many ties', snapshot(() => T + Math.floor(rnd() * 2_000) * 1_000)],
    ['some not attached yet', snapshot((i) => (i % 13 === 0 ? undefined : T - Math.floor(rnd() * 500)))],
    ['a span too long for an exact key', snapshot((i) => (i % 2 === 0 ? 2 ** 52 - Math.floor(rnd() * 100) : Math.floor(rnd() * 100)))],
    ['fractional times', snapshot(() => T + Math.floor(rnd() * 100) / 4)],
    ['times that do not compare', snapshot((i) => (i % 97 === 0 ? Number.NaN : T + Math.floor(rnd() * 100)))],
  ];

  it.each(cases)('%s: the order of the one-piece stable sort, and the same claims', (_, enis) => {
    const expected = enis
      .filter((e) => e.owner === 'glue' && e.attachTime !== undefined)
      .sort((a, b) => (a.attachTime as number) - (b.attachTime as number));
    const ix = attachIndex(enis);
    expect(ix.enis.map((e) => e.id)).toEqual(expected.map((e) => e.id));
    expect(Array.from(ix.times)).toEqual(expected.map((e) => e.attachTime));
    const ledger = Array.from({ length: 120 }, (_, i) => res(`r${i}`, T - 600 + i * 9, 1 + (i % 40)));
    const got = claims(ledger, enis);
    const want = reference.claims(ledger, enis);
    expect(sorted(got.perReservation)).toEqual(sorted(want.perReservation));
    expect([...got.claimed].sort()).toEqual([...want.claimed].sort());
  });
});
