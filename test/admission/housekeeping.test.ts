import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { SnapshotCache } from '../../src/snapshot/cache.js';
import { FileStore } from '../../src/store/file.js';
import { eni, snapshotOf, subnetView } from '../helpers/world.js';
import { SnapshotHousekeeping } from '../../src/admission/housekeeping.js';
import { defaultPolicySettings } from '../../src/admission/policy.js';
import type { Reservation } from '../../src/admission/types.js';

const T0 = Date.parse('2026-04-12T07:00:00.000Z');
const MIN = 60_000;
const S = 'subnet-0a';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function setup(opts: { speed?: number; intervalSeconds?: number } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'glue-eni-housekeeping-'));
  let now = T0;
  const clock = { now: () => now, ...(opts.speed === undefined ? {} : { speed: opts.speed }) };
  const store = await FileStore.open({ dataDir: dir, clock, logger: silentLogger });
  const cache = new SnapshotCache(() => 0);
  const hk = new SnapshotHousekeeping({
    cache,
    store,
    clock,
    logger: silentLogger,
    dataDir: dir,
    sampleIntervalSeconds: () => opts.intervalSeconds ?? 60,
    settingsOf: () => defaultPolicySettings,
  });
  hk.start();
  cleanups.push(async () => {
    hk.stop();
    await hk.idle();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const sample = async (at: number, extra: ReturnType<typeof eni>[]) => {
    now = at;
    cache.set(
      snapshotOf([subnetView({ subnetId: S, inUse: 5, attachTime: T0 - 60 * MIN, lingering: 0, extraEnis: extra })], {
        takenAt: at,
        completedMono: 0,
        glueKnown: true,
      }),
    );
    await hk.idle();
  };
  return { store, hk, sample, cache, setNow: (t: number) => (now = t) };
}

describe('SnapshotHousekeeping', () => {
  it('closes a reservation as consumed once a snapshot shows all its workers, and counts unreserved new ENIs as a bypass', async () => {
    const { store, hk, sample } = await setup();
    await sample(T0, []);
    const r: Reservation = {
      id: `${S}.0123456789abcdef`,
      subnetId: S,
      workers: 2,
      createdAt: T0 + 10_000,
      expiresAt: T0 + 5 * MIN,
      retainUntil: T0 + 10 * MIN,
    };
    await store.transact(S, T0 + 10_000, () => ({
      add: r,
      observation: {
        subnetId: S,
        observedAt: T0 + 10_000,
        uniq: 'a',
        totalEnis: 5,
        inUse: 5,
        available: 0,
        decision: 'admit',
        expiresAt: T0 + 30 * 86_400_000,
      },
      result: undefined,
    }));

    // One of its two workers attached: still live, nothing new unreserved.
    await sample(T0 + MIN, [eni('eni-r1', 'in-use', T0 + 30_000)]);
    expect((await store.reservations(S, T0 + MIN)).map((x) => x.closed)).toEqual([undefined]);
    expect(hk.bypassTotals()).toEqual([{ subnetId: S, subnet: S, account: '', region: '', addresses: 0 }]);

    // Both attached, and one more ENI no reservation covers.
    await sample(T0 + 2 * MIN, [eni('eni-r1', 'in-use', T0 + 30_000), eni('eni-r2', 'in-use', T0 + 70_000), eni('eni-x', 'in-use', T0 + 80_000)]);
    const [after] = await store.reservations(S, T0 + 2 * MIN);
    expect(after).toMatchObject({ id: r.id, closed: 'consumed', closedAt: T0 + 2 * MIN });
    expect(hk.bypassTotals()).toEqual([{ subnetId: S, subnet: S, account: '', region: '', addresses: 1 }]);
    expect(hk.bypassHistory(S)).toMatchObject({ watchedMs: 2 * MIN, totalAddresses: 1 });
  });

  it('judges gaps on the clock that stamps the samples: at 30x, samples 2 real seconds apart are one watch', async () => {
    // The demo: samples every 2 s of real time, stamped on a simulator clock 30 times faster (60 s apart).
    const { hk, sample } = await setup({ speed: 30, intervalSeconds: 2 });
    await sample(T0, []);
    await sample(T0 + MIN, [eni('eni-x', 'in-use', T0 + 30_000)]);
    expect(hk.bypassTotals()).toEqual([{ subnetId: S, subnet: S, account: '', region: '', addresses: 1 }]);
    expect(hk.bypassHistory(S)).toMatchObject({ watchedMs: MIN });
    // Beyond 3 intervals on that clock (> 180 s) is still a gap: nothing is classified across it.
    await sample(T0 + 5 * MIN, [eni('eni-x', 'in-use', T0 + 30_000), eni('eni-y', 'in-use', T0 + 4 * MIN)]);
    expect(hk.bypassTotals()).toEqual([{ subnetId: S, subnet: S, account: '', region: '', addresses: 1 }]);
  });

  it("with two targets, a sample judges only its own target's subnets: the other keeps its forecast and is not counted as watched", async () => {
    const { hk, cache, setNow } = await setup();
    const B = 'subnet-0b';
    const sample = async (target: 'eu' | 'us', at: number) => {
      setNow(at);
      const view = subnetView({ subnetId: target === 'eu' ? S : B, inUse: 5, attachTime: T0 - 60 * MIN, lingering: 0 });
      cache.set(snapshotOf([view], { takenAt: at, completedMono: 0, glueKnown: true }), target);
      await hk.idle();
    };
    await sample('eu', T0);
    await sample('eu', T0 + MIN);
    expect(hk.bypassHistory(S)?.watchedMs).toBe(MIN);
    // Only the other target is sampled from now on (this one is failing).
    for (let k = 2; k <= 5; k++) await sample('us', T0 + k * MIN);
    expect(hk.bypassHistory(S)?.watchedMs).toBe(MIN);
    expect(hk.bypassHistory(B)?.watchedMs).toBe(3 * MIN);
    expect(hk.forecast(S)?.from).toBe(T0 + MIN);
    expect(hk.forecast(B)?.from).toBe(T0 + 5 * MIN);
  });
});
