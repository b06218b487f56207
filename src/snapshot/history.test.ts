import { describe, expect, it } from 'vitest';
import { snapshotOf, subnetView } from '../../test/helpers/world.js';
import { SnapshotCache } from './cache.js';
import { SnapshotHistory } from './history.js';

const MIN = 60_000;
const at = (takenAt: number, inUse = 3, ids = ['subnet-0a']) =>
  snapshotOf(
    ids.map((subnetId) => subnetView({ subnetId, inUse, available: 1, lingering: 1 })),
    { takenAt },
  );

describe('SnapshotHistory', () => {
  it('follows the cache: one point per subnet per good sample, oldest first, with the ENI counts', () => {
    const cache = new SnapshotCache();
    cache.set(at(0, 2));
    const h = new SnapshotHistory();
    const stop = h.follow(cache);
    cache.set(at(MIN, 5));
    expect(h.points('subnet-0a')).toEqual([
      { at: 0, inUse: 2, available: 1, lingering: 1, used: 3 },
      { at: MIN, inUse: 5, available: 1, lingering: 1, used: 6 },
    ]);
    stop();
    cache.set(at(2 * MIN));
    expect(h.points('subnet-0a')).toHaveLength(2);
  });

  it('is bounded: points older than the window go, and never more than maxPoints per subnet', () => {
    const h = new SnapshotHistory({ windowMs: 60 * MIN, maxPoints: 10 });
    for (let i = 0; i <= 120; i++) h.add(at(i * MIN));
    const pts = h.points('subnet-0a');
    expect(pts).toHaveLength(10);
    expect(pts[0]!.at).toBe(111 * MIN);
    const wide = new SnapshotHistory({ windowMs: 60 * MIN, maxPoints: 1000 });
    for (let i = 0; i <= 120; i++) wide.add(at(i * MIN));
    expect(wide.points('subnet-0a').map((p) => p.at)).toEqual(Array.from({ length: 61 }, (_, i) => (60 + i) * MIN));
  });

  it('forgets a subnet no longer watched, and starts afresh when the clock steps back', () => {
    const h = new SnapshotHistory();
    h.add(at(0, 3, ['subnet-0a', 'subnet-0b']));
    h.add(at(MIN, 3, ['subnet-0b']));
    expect(h.points('subnet-0a')).toEqual([]);
    expect(h.points('subnet-0b')).toHaveLength(2);
    h.add(at(0, 4, ['subnet-0b']));
    expect(h.points('subnet-0b')).toEqual([{ at: 0, inUse: 4, available: 1, lingering: 1, used: 5 }]);
  });
});
