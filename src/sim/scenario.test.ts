import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../config/errors.js';
import { regionScenario, worldSeed } from './worlds.js';
import { loadScenarioFile, parseScenario } from './scenario.js';

const testdata = (name: string) => fileURLToPath(new URL(`./testdata/${name}`, import.meta.url));
const scenarios = (name: string) => fileURLToPath(new URL(`../../scenarios/${name}`, import.meta.url));

describe('shipped scenarios', () => {
  it('seed-shared.yml is the report morning: one shared /26, 2 critical + 2 non-critical jobs of 10 workers, backfills', () => {
    const s = loadScenarioFile(scenarios('seed-shared.yml'));
    expect(s.subnets).toHaveLength(1);
    expect(s.subnets[0].cidr.endsWith('/26')).toBe(true);
    const byName = Object.fromEntries(s.jobs.map((j) => [j.name, j]));
    expect(byName['customer-analytics-daily'].schedule).toBe('0 7 * * 1-5');
    expect(byName['product-metrics-daily'].schedule).toBe('0 7 * * 1-5');
    expect(byName.reporting.schedule).toMatch(/\/2 \* \* \*$/);
    expect(byName.aggregations.schedule).toMatch(/\/2 \* \* \*$/);
    expect(s.jobs.every((j) => j.workers === 10)).toBe(true);
    expect(s.adhoc.length).toBeGreaterThan(0);
    expect(s.lifecycle.lingerInUseMinutes).toEqual({ min: 0, max: 65 });
    expect(s.lifecycle.availableMinutes).toEqual({ min: 30, max: 40 });
    expect(s.start).toBe(Date.parse('2026-04-06T00:00:00Z'));
  });

  it('seed-split.yml puts the same jobs over A /26 1a critical, B /26 1b non-critical, C /27 1c ad hoc', () => {
    const s = loadScenarioFile(scenarios('seed-split.yml'));
    expect(s.subnets.map((x) => [x.cidr.split('/')[1], x.availabilityZone])).toEqual([
      ['26', 'us-east-1a'],
      ['26', 'us-east-1b'],
      ['27', 'us-east-1c'],
    ]);
    const subnetOfConn = Object.fromEntries(s.connections.map((c) => [c.name, c.subnet]));
    const subnetOfJob = Object.fromEntries(s.jobs.map((j) => [j.name, subnetOfConn[j.connection]]));
    expect(subnetOfJob['customer-analytics-daily']).toBe(s.subnets[0].id);
    expect(subnetOfJob['product-metrics-daily']).toBe(s.subnets[0].id);
    expect(subnetOfJob.reporting).toBe(s.subnets[1].id);
    expect(subnetOfJob.aggregations).toBe(s.subnets[1].id);
    expect(s.adhoc.every((a) => subnetOfConn[a.connection] === s.subnets[2].id)).toBe(true);
  });

  it('every shipped scenario gives its jobs the deadlines of their kind: critical tens of minutes, backfills hours', () => {
    const files = ['seed-shared.yml', 'seed-split.yml', 'backtest/split-light.yml', 'backtest/calm-24.yml', 'backtest/large-22.yml'];
    for (const f of files) {
      const s = loadScenarioFile(scenarios(f));
      const byName = Object.fromEntries(s.jobs.map((j) => [j.name, j.deadlineMinutes]));
      expect(byName, f).toEqual({ reporting: 60, aggregations: 60, 'customer-analytics-daily': 30, 'product-metrics-daily': 30 });
      expect(
        s.adhoc.map((a) => a.deadlineMinutes),
        f,
      ).toEqual([240]);
    }
    const bigTail = loadScenarioFile(scenarios('backtest/big-tail.yml'));
    expect(bigTail.jobs.map((j) => j.deadlineMinutes)).toEqual([30, 30, 30]);
    expect(bigTail.adhoc.map((a) => a.deadlineMinutes)).toEqual([120]);
    expect(loadScenarioFile(scenarios('backtest/burst-27.yml')).adhoc.map((a) => a.deadlineMinutes)).toEqual([120, 60]);
    expect(loadScenarioFile(scenarios('demo-hot.yml')).jobs.map((j) => j.deadlineMinutes)).toEqual([60, 60, 60, 30, 15]);
  });

  it('split-light.yml is seed-split.yml with a light ad-hoc /27: 2 backfills a day of 1-2 h instead of 12 of 3-5 h', () => {
    const split = loadScenarioFile(scenarios('seed-split.yml'));
    const light = loadScenarioFile(scenarios('backtest/split-light.yml'));
    expect(light.subnets).toEqual(split.subnets);
    expect(light.jobs).toEqual(split.jobs);
    expect(light.lifecycle).toEqual(split.lifecycle);
    expect(light.otherEnis).toEqual(split.otherEnis);
    expect(split.adhoc[0]).toMatchObject({ perDay: 12, durationMinutes: { min: 180, max: 300 } });
    expect(light.adhoc).toEqual([{ ...split.adhoc[0], perDay: 2, durationMinutes: { min: 60, max: 120 } }]);
  });

  it('demo-hot.yml parses', () => {
    expect(loadScenarioFile(scenarios('demo-hot.yml')).subnets.length).toBeGreaterThan(0);
  });
});

describe('scenario validation names the field', () => {
  const cases: [string, string][] = [
    ['bad-workers.yml', 'jobs[0].workers: expected an integer from 1 to 1000'],
    ['bad-cidr.yml', 'subnets[0].cidr: expected a prefix from /16 to /28'],
    ['bad-job-connection.yml', 'jobs[0].connection: unknown connection "nope"'],
    ['bad-connection-subnet.yml', 'connections[0].subnet: unknown subnet "subnet-0ff"'],
    ['bad-schedule.yml', 'jobs[0].schedule: expected a 5-field cron expression'],
    ['bad-schedule-hour.yml', 'jobs[0].schedule: expected a cron expression: '],
    ['bad-range.yml', 'lifecycle.availableMinutes.max: expected max >= min'],
    ['bad-start.yml', 'start: expected an ISO 8601 time with a zone'],
    ['bad-unknown-field.yml', 'jobz: unknown field'],
    ['bad-throttle-rate.yml', 'faults.throttleRate: expected a number from 0 to 1'],
    ['bad-missing-lifecycle.yml', 'lifecycle: expected {lingerInUseMinutes'],
    ['bad-account.yml', 'account: expected a 12-digit account id as a quoted string'],
    ['bad-duplicate-job.yml', 'jobs[1].name: duplicate of jobs[0].name'],
    ['bad-other-enis.yml', 'otherEnis[0].count: expected at most 59 addresses in subnet-0a1, got 60'],
    ['bad-adhoc-hours.yml', 'adhoc[0].hours.to: expected to > from'],
    ['bad-yaml.yml', 'bad-yaml.yml: YAML '],
    ['bad-demo-start.yml', 'demoStart: expected a time at or after start'],
    ['bad-deadline.yml', 'adhoc[0].deadlineMinutes: expected a number of minutes from 1 to 10080'],
    ['bad-job-deadline.yml', 'jobs[0].deadlineMinutes: expected a number of minutes from 1 to 10080'],
  ];
  for (const [file, message] of cases) {
    it(`${file} → ${message}`, () => {
      let caught: unknown;
      try {
        loadScenarioFile(testdata(file));
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      const err = caught as ConfigError;
      expect(err.message).toContain(message);
      // Every issue line is led by the file it came from.
      for (const issue of err.issues) expect(issue.startsWith(testdata(file))).toBe(true);
    });
  }

  it('a missing file says so', () => {
    expect(() => loadScenarioFile(testdata('no-such-file.yml'))).toThrow(/no-such-file\.yml: cannot read/);
  });

  /** The fewest keys a scenario can have. */
  const minimal = {
    start: '2026-04-06T00:00:00Z',
    seed: 42,
    subnets: [{ id: 'subnet-0a1', cidr: '10.0.0.0/26', availabilityZone: 'us-east-1a' }],
    lifecycle: { lingerInUseMinutes: { min: 0, max: 65 }, availableMinutes: { min: 30, max: 40 } },
  };

  it('parseScenario fills the defaults', () => {
    const s = parseScenario(minimal);
    expect(s.account).toBe('123456789012');
    expect(s.faults).toEqual({ throttleRate: 0, serverErrorRate: 0, latencyMs: 0 });
    expect(s.lifecycle.attachDelaySeconds).toEqual({ min: 2, max: 10 });
    expect(s.jobs).toEqual([]);
  });

  it('a job or an ad-hoc stream without deadlineMinutes gets 10: the report sensor gave up after 10 minutes', () => {
    const job = { connection: 'c', workers: 1, durationMinutes: { min: 1, max: 2 } };
    const s = parseScenario({
      ...minimal,
      connections: [{ name: 'c', subnet: 'subnet-0a1' }],
      jobs: [
        { ...job, name: 'a', schedule: '0 * * * *' },
        { ...job, name: 'b', schedule: '0 * * * *', deadlineMinutes: 45 },
      ],
      adhoc: [{ ...job, perDay: 1 }],
    });
    expect(s.jobs.map((j) => j.deadlineMinutes)).toEqual([10, 45]);
    expect(s.adhoc[0].deadlineMinutes).toBe(10);
  });
});

describe('accounts and regions in one scenario', () => {
  const lifecycle = { lingerInUseMinutes: { min: 0, max: 65 }, availableMinutes: { min: 30, max: 40 } };
  const region = (id: string, az: string, cidr = '10.1.0.0/26') => ({
    subnets: [{ id, cidr, availabilityZone: az }],
    connections: [{ name: 'c', subnet: id }],
    jobs: [{ name: 'j', connection: 'c', workers: 2, schedule: '0 7 * * *', durationMinutes: { min: 10, max: 20 } }],
  });
  const base = {
    start: '2026-04-06T00:00:00Z',
    seed: 9,
    account: '111111111111',
    lifecycle,
    accounts: [
      {
        id: '222222222222',
        roles: [{ name: 'reader', externalId: 'xid-1' }],
        regions: { 'eu-west-1': region('subnet-0e1', 'eu-west-1a'), 'us-east-1': region('subnet-0c1', 'us-east-1b') },
      },
    ],
  };
  const issues = (input: unknown): string[] => {
    try {
      parseScenario(input);
    } catch (err) {
      return (err as ConfigError).issues;
    }
    return [];
  };

  it('takes accounts without top-level subnets, fills role defaults, and the one-world form still needs a subnet', () => {
    const s = parseScenario(base);
    expect(s.subnets).toEqual([]);
    expect(s.accounts[0].roles[0]).toEqual({ name: 'reader', externalId: 'xid-1', deny: false, maxSessionSeconds: 3600 });
    expect(Object.keys(s.accounts[0].regions)).toEqual(['eu-west-1', 'us-east-1']);
    expect(s.sts).toEqual({});
    expect(issues({ ...base, accounts: [] })).toEqual(['subnets: expected at least one subnet']);
  });

  it('errors name the field inside the account and region', () => {
    const bad = structuredClone(base);
    bad.accounts[0].regions['eu-west-1'].subnets[0].cidr = '10.1.0.0/30';
    expect(issues(bad)).toEqual([
      'accounts[0].regions.eu-west-1.subnets[0].cidr: expected a prefix from /16 to /28 (the sizes AWS allows for a subnet)',
    ]);

    const az = structuredClone(base);
    az.accounts[0].regions['eu-west-1'].subnets[0].availabilityZone = 'us-east-1a';
    expect(issues(az)).toEqual([
      'accounts[0].regions.eu-west-1.subnets[0].availabilityZone: expected an availability zone of eu-west-1, like eu-west-1a',
    ]);

    const job = structuredClone(base);
    job.accounts[0].regions['us-east-1'].jobs[0].connection = 'nope';
    expect(issues(job)).toEqual(['accounts[0].regions.us-east-1.jobs[0].connection: unknown connection "nope" (not in connections[].name)']);
  });

  it('subnet ids are unique across worlds; accounts and roles are unique; a world is not defined twice', () => {
    const dup = structuredClone(base) as typeof base & { subnets?: unknown[] };
    dup.accounts[0].regions['us-east-1'].subnets[0].id = 'subnet-0e1';
    dup.accounts[0].regions['us-east-1'].connections[0].subnet = 'subnet-0e1';
    expect(issues(dup)).toEqual(['accounts[0].regions.us-east-1.subnets[0].id: duplicate of accounts[0].regions.eu-west-1.subnets[0].id']);

    const twice = {
      ...base,
      region: 'eu-west-1',
      account: '222222222222',
      subnets: [{ id: 'subnet-0f1', cidr: '10.9.0.0/26', availabilityZone: 'eu-west-1a' }],
      accounts: [base.accounts[0], { ...base.accounts[0], roles: [{ name: 'r' }, { name: 'r' }], regions: {} }],
    };
    expect(issues(twice)).toEqual([
      'accounts[0].regions.eu-west-1: duplicate of the top-level world (account 222222222222, region eu-west-1)',
      'accounts[1].id: duplicate of accounts[0].id',
      'accounts[1].roles[1].name: duplicate role "r"',
    ]);
  });

  it('each (account, region) gets its own seed, account and region; the top-level world keeps the scenario seed', () => {
    const s = parseScenario(base);
    const eu = regionScenario(s, '222222222222', 'eu-west-1', s.accounts[0].regions['eu-west-1']);
    const us = regionScenario(s, '222222222222', 'us-east-1', s.accounts[0].regions['us-east-1']);
    expect([eu.account, eu.region, us.region]).toEqual(['222222222222', 'eu-west-1', 'us-east-1']);
    expect(eu.seed).toBe(worldSeed(9, '222222222222/eu-west-1'));
    expect(eu.seed).not.toBe(us.seed);
    expect(eu.seed).not.toBe(s.seed);
    expect(eu.vpcId).toMatch(/^vpc-0[0-9a-f]{16}$/);
    expect(eu.vpcId).not.toBe(us.vpcId);
    expect(regionScenario(s, '222222222222', 'eu-west-1', s.accounts[0].regions['eu-west-1'])).toEqual(eu);
  });
});
