import { describe, expect, it } from 'vitest';
import { subnetView, type SubnetSpec } from '../../test/helpers/world.js';
import type { SubnetView } from '../snapshot/types.js';
import { refusal } from '../../test/helpers/refusal.js';
import { checkTarget, findJob } from './targets.js';

const placed = (account: string, region: string, spec: SubnetSpec): SubnetView => ({ ...subnetView(spec), account, region });
const etl = (connection: string) => [{ job: 'etl', connection, workers: 10 }];

const a = placed('111111111111', 'eu-west-1', { subnetId: 'subnet-0a1', lingering: 0, jobs: etl('ca') });
const a2 = placed('111111111111', 'eu-west-1', { subnetId: 'subnet-0a2', lingering: 0, jobs: etl('ca2') });
const b = placed('111111111111', 'us-east-1', { subnetId: 'subnet-0b1', lingering: 0, jobs: etl('cb') });
const c = placed('333333333333', 'us-east-1', { subnetId: 'subnet-0c1', lingering: 0, jobs: etl('cc') });
const unknownGlue = placed('444444444444', 'eu-west-1', { subnetId: 'subnet-0d1' });

describe('findJob across targets', () => {
  it('takes the first subnet of a target, as before targets; one target needs no account or region', () => {
    expect(findJob([a, a2], 'etl', {})).toEqual({ kind: 'found', subnet: a, workers: 10 });
    expect(findJob([a, a2], 'nope', {})).toEqual({ kind: 'none' });
  });

  it('names every target a job runs in, and asks only for what tells them apart', () => {
    expect(refusal(() => findJob([a, b, c], 'etl', {}))).toEqual({
      status: 400,
      field: 'job',
      message:
        'job "etl" runs in 111111111111/eu-west-1 (subnet-0a1), 111111111111/us-east-1 (subnet-0b1) and 333333333333/us-east-1 (subnet-0c1): add account= and/or region=',
    });
    expect(refusal(() => findJob([a, b], 'etl', {})).message).toMatch(/: add region=$/);
    expect(refusal(() => findJob([b, c], 'etl', {})).message).toMatch(/: add account=$/);
    expect(findJob([a, b, c], 'etl', { account: '111111111111', region: 'us-east-1' })).toEqual({ kind: 'found', subnet: b, workers: 10 });
    expect(findJob([a, b, c], 'etl', { account: '333333333333' })).toEqual({ kind: 'found', subnet: c, workers: 10 });
  });

  it('a job found only outside the named target is a 400 naming the parameter that excludes it', () => {
    expect(refusal(() => findJob([a], 'etl', { account: '999999999999' }))).toEqual({
      status: 400,
      field: 'account',
      message: 'job "etl" runs in 111111111111/eu-west-1 (subnet-0a1), not in account 999999999999',
    });
    expect(refusal(() => findJob([a], 'etl', { account: '111111111111', region: 'ap-south-1' })).field).toBe('region');
  });

  it('a target in scope that could not read Glue leaves the answer open; naming another target settles it', () => {
    expect(findJob([a, unknownGlue], 'etl', {})).toEqual({ kind: 'glue-unknown', subnets: [unknownGlue] });
    expect(findJob([a, unknownGlue], 'etl', { account: '111111111111' })).toEqual({ kind: 'found', subnet: a, workers: 10 });
  });
});

describe('checkTarget', () => {
  it("accepts the subnet's own account and region, and names the one that differs", () => {
    expect(() => checkTarget(a, { account: '111111111111', region: 'eu-west-1' }, 'critical')).not.toThrow();
    expect(refusal(() => checkTarget(a, { region: 'us-east-1' }, 'critical'))).toEqual({
      status: 400,
      field: 'region',
      message: 'subnet "critical" (subnet-0a1) is in 111111111111/eu-west-1, not in region us-east-1',
    });
    const noAccount = { ...a, account: '' };
    expect(refusal(() => checkTarget(noAccount, { account: '111111111111' }, 'subnet-0a1')).message).toBe(
      'subnet "subnet-0a1" is in (account unknown)/eu-west-1, not in account 111111111111',
    );
  });
});
