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

describe('SnapshotCache across targets', () => {
  const A = { account: '111111111111', region: 'eu-west-1' };
  const B = { account: '222222222222', region: 'us-east-1' };
  const view = (subnetId: string, name: string, t: typeof A) => ({ ...subnetView({ subnetId, name }), ...t });
  const snap = (t: typeof A, completedMono: number, ...subnets: ReturnType<typeof view>[]) => ({
    ...snapshotOf(subnets, { completedMono }),
    target: t,
  });

  const twoTargets = (now: { t: number }) => {
    const cache = new SnapshotCache(() => now.t);
    cache.addTarget('a', A, ['subnet-0a1', 'critical']);
    cache.addTarget('b', B, ['subnet-0b1', 'batch']);
    return cache;
  };

  it('merges every target’s last good snapshot and finds a subnet in any of them', () => {
    const now = { t: 0 };
    const cache = twoTargets(now);
    cache.set(snap(A, 0, view('subnet-0a1', 'critical', A)), 'a');
    cache.set(snap(B, 0, view('subnet-0b1', 'batch', B)), 'b');
    expect(cache.current()?.subnets.map((s) => [s.subnetId, s.account, s.region])).toEqual([
      ['subnet-0b1', B.account, B.region],
      ['subnet-0a1', A.account, A.region],
    ]);
    expect(cache.subnet('critical')?.account).toBe(A.account);
    expect(cache.subnet('subnet-0b1')?.region).toBe(B.region);
    // A new sample of one target replaces that target's subnets only.
    cache.set(snap(A, 0, view('subnet-0a1', 'critical', A), view('subnet-0a2', 'spare', A)), 'a');
    expect(
      cache
        .current()
        ?.subnets.map((s) => s.subnetId)
        .sort(),
    ).toEqual(['subnet-0a1', 'subnet-0a2', 'subnet-0b1']);
  });

  it('judges staleness per target: a stale target names itself for its subnets only, readiness holds while one is fresh', () => {
    const now = { t: 0 };
    const cache = twoTargets(now);
    cache.set(snap(A, 0, view('subnet-0a1', 'critical', A)), 'a');
    cache.set(snap(B, 0, view('subnet-0b1', 'batch', B)), 'b');
    now.t = 200_000;
    cache.set(snap(A, 200_000, view('subnet-0a1', 'critical', A)), 'a');
    cache.recordFailure({ at: 1, api: 'AssumeRole', message: 'AccessDenied: not authorized' }, 'b');
    expect(cache.subnetStaleReason('critical', 180)).toBeUndefined();
    expect(cache.subnetStaleReason('subnet-0b1', 180)).toBe(
      'target 222222222222/us-east-1: last successful sample is 200 s old (max 180 s); last sample failed: AssumeRole: AccessDenied: not authorized',
    );
    expect(cache.subnetStaleReason('batch', 180)).toBe(cache.subnetStaleReason('subnet-0b1', 180));
    expect(cache.subnetStaleReason('subnet-0ff', 180)).toBeUndefined();
    expect(cache.staleReason(180)).toBeUndefined();
    expect(cache.isFresh(180)).toBe(true);
    expect(cache.targets()).toEqual([
      { ...A, key: '111111111111/eu-west-1', ageSeconds: 0 },
      { ...B, key: '222222222222/us-east-1', ageSeconds: 200, failure: { at: 1, api: 'AssumeRole', message: 'AccessDenied: not authorized' } },
    ]);
    now.t = 400_000;
    expect(cache.staleReason(180)).toBe(
      'no target is fresh: target 111111111111/eu-west-1: last successful sample is 200 s old (max 180 s); ' +
        'target 222222222222/us-east-1: last successful sample is 400 s old (max 180 s); last sample failed: AssumeRole: AccessDenied: not authorized',
    );
  });

  it('judges a declared target’s configured subnets stale before its first sample', () => {
    const now = { t: 0 };
    const cache = twoTargets(now);
    cache.set(snap(A, 0, view('subnet-0a1', 'critical', A)), 'a');
    cache.recordFailure({ at: 1, api: 'AssumeRole', message: 'AccessDenied' }, 'b');
    expect(cache.subnet('batch')).toBeUndefined();
    expect(cache.subnetStaleReason('batch', 180)).toBe(
      'target 222222222222/us-east-1: no successful sample yet; last sample failed: AssumeRole: AccessDenied',
    );
    expect(cache.targets()[1]).toEqual({ ...B, key: '222222222222/us-east-1', failure: { at: 1, api: 'AssumeRole', message: 'AccessDenied' } });
  });

  it('with one target keeps the single sentence and the snapshot itself, learning the account from the sample', () => {
    const now = { t: 0 };
    const cache = new SnapshotCache(() => now.t);
    expect(cache.staleReason(180)).toBe('no successful sample yet');
    const s = snap(A, 0, view('subnet-0a1', 'critical', A));
    cache.set(s);
    expect(cache.current()).toBe(s);
    expect(cache.targets()).toEqual([{ ...A, key: '111111111111/eu-west-1', ageSeconds: 0 }]);
    now.t = 200_000;
    expect(cache.staleReason(180)).toBe('last successful sample is 200 s old (max 180 s)');
    expect(cache.subnetStaleReason('critical', 180)).toBe('last successful sample is 200 s old (max 180 s)');
  });
});
