import { describe, expect, it } from 'vitest';
import { snapshotOf, subnetView } from '../../test/helpers/world.js';
import { SnapshotCache } from './cache.js';

const cacheOf = (...subnets: { subnetId: string; name?: string }[]) => {
  const cache = new SnapshotCache(() => 0);
  cache.set(snapshotOf(subnets.map((s) => subnetView(s))));
  return cache;
};

describe('SnapshotCache.subnet', () => {
  it('resolves an id and a configured name', () => {
    const cache = cacheOf({ subnetId: 'subnet-0a1', name: 'critical' }, { subnetId: 'subnet-0b1' });
    expect(cache.subnet('subnet-0a1')?.subnetId).toBe('subnet-0a1');
    expect(cache.subnet('critical')?.subnetId).toBe('subnet-0a1');
    expect(cache.subnet('subnet-0b1')?.subnetId).toBe('subnet-0b1');
    expect(cache.subnet('batch')).toBeUndefined();
  });

  it('resolves an id to its own subnet even when another subnet carries that id as its name, in either order', () => {
    for (const order of [0, 1]) {
      const subnets = [{ subnetId: 'subnet-0a1' }, { subnetId: 'subnet-0b1', name: 'subnet-0a1' }];
      const cache = cacheOf(...(order ? subnets.reverse() : subnets));
      expect(cache.subnet('subnet-0a1')?.subnetId).toBe('subnet-0a1');
      expect(cache.subnet('subnet-0b1')?.subnetId).toBe('subnet-0b1');
    }
  });

  it('never resolves a name shaped like an id, watched or not', () => {
    const cache = cacheOf({ subnetId: 'subnet-0b1', name: 'subnet-0ff' }, { subnetId: 'subnet-0c1', name: 'Subnet-0EE' });
    expect(cache.subnet('subnet-0ff')).toBeUndefined();
    expect(cache.subnet('Subnet-0EE')).toBeUndefined();
  });

  it('resolves a name two subnets carry to neither', () => {
    const cache = cacheOf({ subnetId: 'subnet-0a1', name: 'etl' }, { subnetId: 'subnet-0b1', name: 'etl' });
    expect(cache.subnet('etl')).toBeUndefined();
    expect(cache.subnet('subnet-0b1')?.subnetId).toBe('subnet-0b1');
  });
});
