import { describe, expect, it } from 'vitest';
import type { RawEni, RawSample } from '../aws/types.js';
import { addressesHeld, buildSnapshot, buildSnapshotSteps, ownerOf, usableAddresses } from './build.js';

const GLUE = 'Attached to Glue using role: arn:aws:iam::123456789012:role/glue-etl';
const prefixes = ['Attached to Glue using role', 'Glue_'];
const T0 = Date.parse('2026-04-09T07:00:00Z');
const min = 60_000;

const eni = (id: string, over: Partial<RawEni> = {}): RawEni => ({
  id,
  subnetId: 'subnet-0a1',
  status: 'in-use',
  description: GLUE,
  requesterManaged: true,
  privateIpCount: 1,
  ipv4PrefixCount: 0,
  attachTime: T0,
  ...over,
});

const build = (raw: RawSample) =>
  buildSnapshot(raw, {
    names: new Map([['subnet-0a1', 'critical']]),
    ownerDescriptionPrefixes: prefixes,
    takenAt: T0 + 30 * min,
    completedMono: 1,
    durationMs: 5,
  });

describe('address math', () => {
  it('reserves five addresses per subnet', () => {
    expect(usableAddresses('10.0.0.0/26')).toBe(59);
    expect(usableAddresses('10.0.0.64/27')).toBe(27);
    expect(usableAddresses('10.0.0.0/24')).toBe(251);
    expect(usableAddresses('10.0.0.0/28')).toBe(11);
  });

  it('counts secondary addresses and 16 per delegated /28 prefix', () => {
    expect(addressesHeld({ privateIpCount: 1, ipv4PrefixCount: 0 })).toBe(1);
    expect(addressesHeld({ privateIpCount: 3, ipv4PrefixCount: 0 })).toBe(3);
    expect(addressesHeld({ privateIpCount: 1, ipv4PrefixCount: 2 })).toBe(33);
  });

  it('tells Glue ENIs from the others by description prefix', () => {
    expect(ownerOf(GLUE, prefixes)).toBe('glue');
    expect(ownerOf('Glue_job_eni', prefixes)).toBe('glue');
    expect(ownerOf('ELB app/my-alb', prefixes)).toBe('other');
    expect(ownerOf('', prefixes)).toBe('other');
  });
});

describe('buildSnapshot', () => {
  const raw: RawSample = {
    subnets: [
      { subnetId: 'subnet-0a1', cidr: '10.0.0.0/26', availabilityZone: 'us-east-1a', availableIpAddressCount: 40 },
      { subnetId: 'subnet-0b2', cidr: '10.0.0.64/27', availabilityZone: 'us-east-1b', availableIpAddressCount: 27 },
    ],
    enis: [
      // two workers of the running job
      eni('eni-run1', { attachTime: T0 + 1 * min }),
      eni('eni-run2', { attachTime: T0 + 1 * min }),
      // a ghost from a job that ended long ago: attached before the running run started
      eni('eni-ghost', { attachTime: T0 - 120 * min }),
      // cleanup tail
      eni('eni-avail', { status: 'available', attachTime: undefined }),
      // somebody else's ENI with secondary addresses and a prefix
      eni('eni-other', {
        description: 'Interface for NAT Gateway',
        requesterManaged: false,
        privateIpCount: 3,
        ipv4PrefixCount: 1,
        attachTime: undefined,
      }),
    ],
    glue: {
      connections: [
        { name: 'glue-critical', subnetId: 'subnet-0a1' },
        { name: 'glue-batch', subnetId: 'subnet-0b2' },
      ],
      jobs: [
        { name: 'customer-analytics-daily', connections: ['glue-critical'], workers: 2 },
        { name: 'reporting', connections: ['glue-batch'], workers: 10 },
        { name: 'no-vpc', connections: [], workers: 5 },
      ],
      runs: [
        { jobName: 'customer-analytics-daily', id: 'jr_1', state: 'RUNNING', startedOn: T0, workers: 2 },
        { jobName: 'customer-analytics-daily', id: 'jr_0', state: 'SUCCEEDED', startedOn: T0 - 180 * min, completedOn: T0 - 150 * min },
        {
          jobName: 'reporting',
          id: 'jr_f',
          state: 'FAILED',
          startedOn: T0,
          errorMessage: 'The specified subnet does not have enough free addresses to satisfy the request.',
        },
        { jobName: 'reporting', id: 'jr_g', state: 'FAILED', startedOn: T0, errorMessage: 'OutOfMemoryError' },
      ],
    },
  };

  const snap = build(raw);
  const a = snap.subnets.find((s) => s.subnetId === 'subnet-0a1')!;
  const b = snap.subnets.find((s) => s.subnetId === 'subnet-0b2')!;

  it('does the IP accounting over every ENI, any owner', () => {
    expect(a.usable).toBe(59);
    expect(a.used).toBe(4 + 3 + 16);
    expect(a.free).toBe(59 - 23);
    expect(a.awsAvailable).toBe(40);
    expect(a.name).toBe('critical');
    expect(b.name).toBe('subnet-0b2');
    expect(b.usable).toBe(27);
    expect(b.used).toBe(0);
  });

  it('counts ENIs by status and owner', () => {
    expect(a.enisByStatusOwner).toEqual({ 'in-use|glue': 3, 'available|glue': 1, 'in-use|other': 1 });
    expect(a.totalEnis).toBe(5);
    expect(a.inUse).toBe(4);
    expect(a.available).toBe(1);
  });

  it('binds runs and workers to the subnet through the connection', () => {
    expect(a.activeRuns?.map((r) => r.runId)).toEqual(['jr_1']);
    expect(a.activeWorkers).toBe(2);
    expect(a.jobs).toEqual([{ job: 'customer-analytics-daily', connection: 'glue-critical', workers: 2 }]);
    expect(b.activeWorkers).toBe(0);
  });

  it('finds lingering ENIs in aggregate and one by one', () => {
    expect(a.lingering).toBe(1);
    expect(a.enis.filter((e) => e.lingering).map((e) => e.id)).toEqual(['eni-ghost']);
  });

  it("gives a lingering ENI its run's end when the runs read show it (release prediction times the linger from it)", () => {
    const withEnded = build({ ...raw, enis: [...raw.enis, eni('eni-late', { attachTime: T0 - 179 * min })] });
    const enis = withEnded.subnets.find((s) => s.subnetId === 'subnet-0a1')!.enis;
    expect(enis.find((e) => e.id === 'eni-late')).toMatchObject({ lingering: true, jobEndedAt: T0 - 150 * min });
    // Attached after that run completed: its own run is not among those read.
    expect(enis.find((e) => e.id === 'eni-ghost')?.jobEndedAt).toBeUndefined();
    expect(enis.find((e) => e.id === 'eni-run1')?.jobEndedAt).toBeUndefined();
  });

  it('lists exhaustion failures only for the subnet error', () => {
    expect(b.exhaustionFailures).toEqual([{ job: 'reporting', runId: 'jr_f', at: T0 }]);
    expect(a.exhaustionFailures).toEqual([]);
  });

  it('marks Glue-derived values unknown when Glue could not be read', () => {
    const noGlue = build({ ...raw, glue: undefined });
    const s = noGlue.subnets.find((x) => x.subnetId === 'subnet-0a1')!;
    expect(noGlue.glueKnown).toBe(false);
    expect(s.used).toBe(23);
    expect(s.lingering).toBeUndefined();
    expect(s.activeWorkers).toBeUndefined();
    expect(s.enis.some((e) => e.lingering)).toBe(false);
  });

  it('treats every in-use Glue ENI as lingering when nothing runs', () => {
    const idle = build({ ...raw, glue: { ...raw.glue!, runs: [] } });
    const s = idle.subnets.find((x) => x.subnetId === 'subnet-0a1')!;
    expect(s.lingering).toBe(3);
    expect(s.enis.filter((e) => e.lingering)).toHaveLength(3);
  });
});

describe('a large sample, in slices', () => {
  // 6,000 ENIs over three subnets in a shuffled order, statuses and owners interleaved. Subnet a1's ids are
  // lowercase hex (code-unit order is the collation's); b2's mix cases and punctuation (it is not).
  const statuses = ['in-use', 'available', 'attaching', 'in-use', 'detaching'];
  const enis: RawEni[] = Array.from({ length: 6_000 }, (_, i) => {
    const k = (i * 7_919) % 6_000;
    const subnetId = ['subnet-0a1', 'subnet-0b2', 'subnet-0c3'][k % 3];
    const id =
      subnetId === 'subnet-0b2' ? `eni-${['B', 'a', 'b', '_', 'A', '-'][k % 6]}${k.toString(36)}` : `eni-0${k.toString(16).padStart(8, '0')}`;
    return eni(id, { subnetId, status: statuses[(k >> 1) % 5], description: k % 4 === 0 ? 'NAT' : GLUE, attachTime: T0 + (k % 50) * 1_000 });
  });
  const raw: RawSample = {
    subnets: ['subnet-0a1', 'subnet-0b2', 'subnet-0c3'].map((subnetId, i) => ({
      subnetId,
      cidr: `10.0.${i * 32}.0/19`,
      availabilityZone: 'us-east-1a',
      availableIpAddressCount: 1_000,
    })),
    enis,
    glue: {
      connections: [{ name: 'c', subnetId: 'subnet-0a1' }],
      jobs: [{ name: 'j', connections: ['c'], workers: 10 }],
      runs: [{ jobName: 'j', id: 'jr_1', state: 'RUNNING', startedOn: T0 + 20_000, workers: 10 }],
    },
  };
  const opts = {
    names: new Map([['subnet-0b2', 'beta']]),
    ownerDescriptionPrefixes: prefixes,
    takenAt: T0 + 30 * min,
    completedMono: 1,
    durationMs: 5,
    availableSince: (id: string) => (id.length % 2 === 0 ? T0 : undefined),
  };

  it('gives the snapshot buildSnapshot gives, ENIs in collation order, counts keyed in the order first met', () => {
    const steps = buildSnapshotSteps(raw, opts);
    let slices = 1;
    let r = steps.next();
    for (; !r.done; r = steps.next()) slices++;
    expect(slices).toBeGreaterThan(6);
    const whole = buildSnapshot(raw, opts);
    expect(r.value).toEqual(whole);
    for (const view of whole.subnets) {
      const mine = enis.filter((e) => e.subnetId === view.subnetId);
      // What the snapshot always listed: the ids sorted with localeCompare.
      expect(view.enis.map((e) => e.id)).toEqual(mine.map((e) => e.id).sort((a, b) => a.localeCompare(b)));
      const counts: Record<string, number> = {};
      for (const e of mine) {
        const key = `${e.status}|${ownerOf(e.description, prefixes)}`;
        counts[key] = (counts[key] ?? 0) + 1;
      }
      expect(Object.entries(view.enisByStatusOwner)).toEqual(Object.entries(counts));
      expect(view.inUse).toBe(mine.filter((e) => e.status === 'in-use').length);
      expect(view.available).toBe(mine.filter((e) => e.status === 'available').length);
    }
    expect(whole.subnets.flatMap((v) => v.enis).filter((e) => e.availableSince === T0).length).toBeGreaterThan(0);
    // b2's ids are out of collation order by code unit: the collation decided, not the code units.
    const b2 = whole.subnets.find((v) => v.subnetId === 'subnet-0b2')!.enis.map((e) => e.id);
    expect(b2).not.toEqual([...b2].sort());
    expect(whole.subnets.find((v) => v.subnetId === 'subnet-0a1')!.lingering).toBeGreaterThan(0);
  });
});

describe('the target of a snapshot', () => {
  const raw: RawSample = {
    subnets: [{ subnetId: 'subnet-0a1', cidr: '10.0.0.0/26', availabilityZone: 'eu-west-1a', availableIpAddressCount: 58, ownerId: '333333333333' }],
    enis: [eni('eni-1')],
  };
  const opts = { names: new Map([['subnet-0a1', 'critical']]), ownerDescriptionPrefixes: prefixes, takenAt: T0, completedMono: 1, durationMs: 5 };

  it('labels every subnet with the configured account and region', () => {
    const snap = buildSnapshot(raw, { ...opts, target: { account: '111111111111', region: 'eu-west-1' } });
    expect(snap.subnets.map((s) => [s.account, s.region])).toEqual([['111111111111', 'eu-west-1']]);
    expect(snap.target).toEqual({ account: '111111111111', region: 'eu-west-1' });
  });

  it('takes the account from DescribeSubnets OwnerId when none is configured', () => {
    const snap = buildSnapshot(raw, { ...opts, target: { account: '', region: 'us-east-1' } });
    expect(snap.subnets.map((s) => [s.account, s.region])).toEqual([['333333333333', 'us-east-1']]);
    expect(snap.target).toEqual({ account: '333333333333', region: 'us-east-1' });
  });
});
