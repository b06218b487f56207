import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EniView } from '../snapshot/types.js';
import {
  DurationLearner,
  defaultDurationModel,
  durationBin,
  lowerQuantileP90,
  MINUTE_MS,
  predictedFreeAt,
  predictFree,
  releasedBounds,
  RunDurationLearner,
  withReservations,
  type PredictSubnet,
} from './predict.js';

const T0 = Date.UTC(2024, 0, 8, 7, 0, 0);
const MIN = MINUTE_MS;

let seq = 0;
const eni = (over: Partial<EniView>): EniView => ({
  id: `eni-${(seq++).toString(16).padStart(8, '0')}`,
  status: 'in-use',
  owner: 'glue',
  addresses: 1,
  description: 'Attached to Glue using role x',
  lingering: false,
  ...over,
});
const availableFor = (minutes: number): EniView => eni({ status: 'available', availableSince: T0 - minutes * MIN });
const lingeringFor = (minutes: number): EniView => eni({ status: 'in-use', lingering: true, jobEndedAt: T0 - minutes * MIN });
const subnet = (enis: EniView[], free = 20): PredictSubnet => ({ subnetId: 'subnet-0a', free, enis });

describe('predictFree', () => {
  it('counts launches in progress: Glue ENIs unattached and first seen available in this very sample', () => {
    const attached = { attachTime: T0 - 5 * MIN };
    const enis = [
      availableFor(0), // created for a launch, not attached yet: in flight
      eni({ status: 'available', availableSince: T0, addresses: 2 }), // the same, two addresses
      availableFor(3), // the cleanup tail, available for 3 minutes
      eni({ status: 'available' }), // age unknown (no lifecycle tracker): not counted
      eni({ status: 'in-use', ...attached }), // a running worker
      eni({ status: 'available', availableSince: T0, owner: 'other' }), // not Glue's
    ];
    expect(predictFree(subnet(enis), defaultDurationModel, { at: T0, horizonMinutes: 10 }).inFlight).toBe(3);
  });

  it('starts at the sample free and spans the horizon minute by minute', () => {
    const f = predictFree(subnet([], 17), defaultDurationModel, { at: T0, horizonMinutes: 90 });
    expect(f.from).toBe(T0);
    expect(f.free).toHaveLength(91);
    expect(new Set(f.free)).toEqual(new Set([17]));
  });

  it('predicts ENIs available for 35 of their ~30-40 min released soon', () => {
    const enis = Array.from({ length: 10 }, () => availableFor(35));
    const f = predictFree(subnet(enis, 5), defaultDurationModel, { at: T0 });
    // Their remaining time is uniform over 0-5 min: all ten back within 6 min at p90.
    expect(f.free[0]).toBe(5);
    expect(f.free[6]).toBe(15);
    // And some, not all, within 2 min (conservative: fewer than the mean 4).
    expect(f.free[2]).toBeGreaterThan(5);
    expect(f.free[2]).toBeLessThan(5 + 4);
  });

  it('predicts young lingering ENIs not back within 15 min, back within linger + available', () => {
    const enis = Array.from({ length: 10 }, () => lingeringFor(5));
    const f = predictFree(subnet(enis, 3), defaultDurationModel, { at: T0 });
    expect(predictedFreeAt(f, 15)).toBe(3);
    expect(predictedFreeAt(f, 30)).toBe(3);
    // Linger ends by 100 min after the job, then ≤ 40 min available: every one back by 140 − 5 min from now.
    expect(predictedFreeAt(f, 136)).toBe(13);
  });

  it('holds running jobs, non-Glue ENIs and ENIs in other states for the whole horizon', () => {
    const enis = [
      eni({ status: 'in-use', lingering: false }),
      eni({ status: 'available', owner: 'other', availableSince: T0 - 600 * MIN }),
      eni({ status: 'attaching', lingering: false }),
    ];
    const f = predictFree(subnet(enis, 8), defaultDurationModel, { at: T0 });
    expect(Math.max(...f.free)).toBe(8);
  });

  it('counts an ENI by the addresses it holds', () => {
    const f = predictFree(subnet([{ ...availableFor(39), addresses: 17 }], 0), defaultDurationModel, { at: T0 });
    expect(f.free.at(-1)).toBe(17);
  });

  it('takes an ENI with no known age as the youngest: first seen available now, run end unknown', () => {
    const unknownAvail = predictFree(subnet([eni({ status: 'available' })], 0), defaultDurationModel, { at: T0 });
    expect(predictedFreeAt(unknownAvail, 29)).toBe(0);
    expect(predictedFreeAt(unknownAvail, 41)).toBe(1);
    const unknownLinger = predictFree(subnet([eni({ lingering: true })], 0), defaultDurationModel, { at: T0 });
    expect(predictedFreeAt(unknownLinger, 89)).toBe(0);
  });

  it('is monotone in the horizon and within free..free + held addresses whatever the ages (nothing new attaches)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            kind: fc.constantFrom('available', 'lingering', 'running'),
            age: fc.integer({ min: 0, max: 400 }),
            size: fc.integer({ min: 1, max: 3 }),
          }),
          { maxLength: 120 },
        ),
        fc.integer({ min: 0, max: 50 }),
        (specs, free) => {
          const enis = specs.map((s) =>
            s.kind === 'available'
              ? { ...availableFor(s.age), addresses: s.size }
              : s.kind === 'lingering'
                ? { ...lingeringFor(s.age), addresses: s.size }
                : eni({ addresses: s.size }),
          );
          const f = predictFree(subnet(enis, free), defaultDurationModel, { at: T0, horizonMinutes: 180 });
          const releasable = specs.filter((s) => s.kind !== 'running').reduce((n, s) => n + s.size, 0);
          expect(f.free[0]).toBe(free);
          for (let i = 1; i < f.free.length; i++) expect(f.free[i]).toBeGreaterThanOrEqual(f.free[i - 1]);
          expect(f.free.at(-1)).toBeLessThanOrEqual(free + releasable);
        },
      ),
      { numRuns: 60, seed: 7 },
    );
  });

  it('subtracts reservations only through its helpers', () => {
    const f = predictFree(subnet([availableFor(39)], 4), defaultDurationModel, { at: T0, horizonMinutes: 10 });
    expect(withReservations(f, 3)).toEqual(f.free.map((x) => x - 3));
    expect(predictedFreeAt(f, 10, 3)).toBe(2);
    expect(predictedFreeAt(f, 999, 3)).toBe(2);
  });
});

describe('lowerQuantileP90', () => {
  it('is exact for few ENIs: 10 at p = 0.5 give at least 3 with 94.5 % (4 only with 82.8 %)', () => {
    expect(lowerQuantileP90(Array(10).fill(0.5), Array(10).fill(1))).toBe(3);
    expect(lowerQuantileP90([0.5], [10], [10])).toBe(30);
  });

  it('counts certain releases whole and impossible ones not at all', () => {
    expect(lowerQuantileP90([1, 0, 1], [2, 5, 1])).toBe(3);
  });

  it('agrees with the exact quantile within one address on large sums (normal)', () => {
    // 400 ENIs at p = 0.3: mean 120, sd 9.17 → p90 lower ≈ 108.8.
    const q = lowerQuantileP90([0.3], [1], [400]);
    expect(q).toBeGreaterThanOrEqual(107);
    expect(q).toBeLessThanOrEqual(109);
  });
});

describe('DurationLearner', () => {
  it('starts at the field prior and moves toward what it observes', () => {
    const l = new DurationLearner();
    expect(l.model().linger).toEqual(defaultDurationModel.linger);
    const before = l.model();
    // A subnet where Glue releases after 10 min in-use and 5 min available.
    for (let i = 0; i < 200; i++) {
      l.observe('linger', 600);
      l.observe('available', 300);
    }
    expect(l.model()).not.toBe(before);
    expect(l.observations('linger')).toBe(200);
    const enis = Array.from({ length: 10 }, () => lingeringFor(2));
    const learned = predictFree(subnet(enis, 0), l.model(), { at: T0 });
    const prior = predictFree(subnet(enis, 0), defaultDurationModel, { at: T0 });
    // Each back within 15 min with p ≈ 0.91 (the prior keeps 20 of 220 weights): at least 7 of 10 at p90.
    expect(predictedFreeAt(learned, 15)).toBeGreaterThanOrEqual(7);
    expect(predictedFreeAt(prior, 15)).toBe(0);
  });

  it('ignores nonsense and bins late rather than early', () => {
    const l = new DurationLearner();
    l.observe('available', Number.NaN);
    l.observe('available', -1);
    expect(l.observations('available')).toBe(0);
    expect(durationBin(61)).toBe(2);
    expect(durationBin(60)).toBe(1);
    expect(durationBin(1e9)).toBe(360);
  });
});

describe('RunDurationLearner', () => {
  it('learns a run as ended at the first sample that no longer shows it, and trusts a job from 3 runs on', () => {
    const l = new RunDurationLearner();
    for (let i = 0; i < 3; i++) {
      const start = T0 + i * 200 * MIN;
      const run = { job: 'etl', runId: `jr_${i}`, state: 'RUNNING', startedOn: start, workers: 10 };
      l.observeSample([run], start + MIN);
      // Glue unknown in a sample: nothing learned, the run stays tracked.
      l.observeSample(undefined, start + 30 * MIN);
      l.observeSample([run], start + 40 * MIN);
      expect(l.pmf('etl')).toBeUndefined();
      l.observeSample([], start + 45 * MIN);
    }
    expect(l.observations('etl')).toBe(3);
    expect(l.pmf('etl')?.[45]).toBe(1);
    expect(l.pmf('other')).toBeUndefined();
  });
});

describe('predictFree with running jobs', () => {
  const learned = (minutes: number[]): RunDurationLearner => {
    const l = new RunDurationLearner();
    for (const m of minutes) l.observe('etl', m * 60);
    return l;
  };
  const running = (elapsed: number, workers = 10) => ({
    ...subnet(
      Array.from({ length: workers }, () => eni({})),
      5,
    ),
    activeRuns: [{ job: 'etl', runId: 'jr_1', state: 'RUNNING', startedOn: T0 - elapsed * MIN, workers }],
  });

  it("frees a running job's workers after its predicted end, linger and available time", () => {
    // Runs take 40 min; this one has run 10: it ends in 30, lingers 60–100, stays available 30–40.
    const f = predictFree(running(10), defaultDurationModel, { at: T0, runs: learned([40, 40, 40]) });
    expect(predictedFreeAt(f, 30 + 60 + 30, 0)).toBe(5);
    expect(predictedFreeAt(f, 30 + 100 + 40, 0)).toBe(15);
    // The likely course frees them sooner than the conservative one, the optimistic one sooner still.
    const first = (xs: number[]): number => xs.findIndex((x) => x >= 15);
    expect(first(f.likely ?? [])).toBeLessThan(first(f.free));
    expect(first(f.optimistic ?? [])).toBeLessThan(first(f.likely ?? []));
    // Without learned durations, or past every run seen, the workers are held for the horizon.
    expect(predictFree(running(10), defaultDurationModel, { at: T0 }).free.at(-1)).toBe(5);
    expect(predictFree(running(10), defaultDurationModel, { at: T0, runs: learned([40, 40]) }).free.at(-1)).toBe(5);
    expect(predictFree(running(50), defaultDurationModel, { at: T0, runs: learned([40, 40, 40]) }).free.at(-1)).toBe(5);
  });
});

describe('releasedBounds', () => {
  it('gives the 90 %, 50 % and 1 % tails: 10 at p = 0.5 give at least 9 with 1.07 % (10 only with 0.1 %)', () => {
    expect(releasedBounds(Array(10).fill(0.5), Array(10).fill(1))).toEqual({ low: 3, mid: 5, high: 9 });
    const big = releasedBounds(Array(200).fill(0.5), Array(200).fill(1));
    expect(big.low).toBeLessThan(big.mid);
    expect(big.mid).toBe(100);
    expect(big.high).toBeGreaterThan(big.mid);
  });
});
