import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { mustParseCidr } from './cidr.js';
import { EXHAUSTION_MESSAGE, World, WorldError, type WorldEvent } from './model.js';
import { loadScenarioFile, parseScenario, type ScenarioInput } from './scenario.js';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const START = Date.parse('2026-04-06T00:00:00Z'); // a Monday

function scenario(over: Partial<ScenarioInput> = {}) {
  return parseScenario({
    start: '2026-04-06T00:00:00Z',
    seed: 42,
    subnets: [
      { id: 'subnet-0a1', cidr: '10.0.0.0/26', availabilityZone: 'us-east-1a' },
      { id: 'subnet-0b2', cidr: '10.0.0.64/28', availabilityZone: 'us-east-1b' },
    ],
    connections: [
      { name: 'glue-a', subnet: 'subnet-0a1' },
      { name: 'glue-b', subnet: 'subnet-0b2' },
    ],
    jobs: [
      { name: 'hourly', connection: 'glue-a', workers: 10, schedule: '0 * * * *', durationMinutes: { min: 20, max: 45 } },
      { name: 'small', connection: 'glue-b', workers: 8, durationMinutes: { min: 30, max: 30 } },
    ],
    lifecycle: { lingerInUseMinutes: { min: 0, max: 65 }, availableMinutes: { min: 30, max: 40 } },
    otherEnis: [{ subnet: 'subnet-0a1', count: 2, addressesEach: 2 }],
    ...over,
  });
}

const inRange = (v: number, lo: number, hi: number) => v >= lo && v <= hi;

describe('ENI lifecycle', () => {
  it('each Glue ENI attaches seconds after its run starts, lingers in-use, then is available, then deleted, within the drawn ranges', () => {
    const s = scenario();
    const w = new World(s);
    w.advanceTo(START + 2 * DAY - 1);
    const runs = w.jobRuns('hourly');
    expect(runs.length).toBe(48);
    const glue = w.eniTruth().filter((t) => t.owner === 'glue');
    expect(glue.length).toBe(48 * 10);
    const deleted = glue.filter((t) => t.deletedAt !== undefined);
    expect(deleted.length).toBeGreaterThan(400);
    for (const t of glue) {
      const run = w.jobRun(t.jobRunId!)!;
      expect(inRange(t.attachedAt! - run.StartedOn, 2_000, 10_000)).toBe(true);
    }
    for (const t of deleted) {
      const linger = t.detachedAt! - t.runEndedAt!;
      const available = t.deletedAt! - t.detachedAt!;
      expect(inRange(linger, 0, 65 * MIN)).toBe(true);
      expect(inRange(available, 30 * MIN, 40 * MIN)).toBe(true);
      expect(linger).toBe(t.lingerMs);
      expect(available).toBe(t.availableMs);
      expect(t.deletedBy).toBe('glue');
    }
    // The draws spread over the ranges rather than sitting at one value.
    const lingers = deleted.map((t) => t.lingerMs!);
    expect(Math.min(...lingers)).toBeLessThan(10 * MIN);
    expect(Math.max(...lingers)).toBeGreaterThan(55 * MIN);
    for (const r of runs.filter((r) => r.JobRunState === 'SUCCEEDED')) {
      expect(inRange(r.CompletedOn! - r.StartedOn, 20 * MIN, 45 * MIN)).toBe(true);
      expect(r.ExecutionTime).toBe(Math.round((r.CompletedOn! - r.StartedOn) / 1000));
    }
  });

  it('states follow the truth: in-use until linger ends, then available with no attachment, then gone', () => {
    const w = new World(scenario());
    w.advanceTo(START + 30_000); // the 00:00 run has attached
    const t = w.eniTruth().find((x) => x.owner === 'glue')!;
    const eni = w.networkInterface(t.id)!;
    expect(eni.Status).toBe('in-use');
    expect(eni.Attachment?.AttachTime).toBe(t.attachedAt);
    expect(eni.Attachment?.DeleteOnTermination).toBe(false);
    expect(eni.RequesterManaged).toBe(true);
    expect(eni.RequesterId).toMatch(/^AROA[0-9A-F]+:/);
    expect(eni.Description).toBe(`Attached to Glue using role: arn:aws:iam::123456789012:role/${w.scenario.role}`);
    w.advanceTo(START + 50 * MIN); // run ended (<= 45 min)
    const end = t.runEndedAt!;
    expect(end).toBeDefined();
    w.advanceTo(end + t.lingerMs! - 1);
    expect(w.networkInterface(t.id)!.Status).toBe('in-use');
    w.advanceTo(end + t.lingerMs!);
    expect(w.networkInterface(t.id)!.Status).toBe('available');
    expect(w.networkInterface(t.id)!.Attachment).toBeUndefined();
    w.advanceTo(end + t.lingerMs! + t.availableMs! - 1);
    expect(w.networkInterface(t.id)).toBeDefined();
    w.advanceTo(end + t.lingerMs! + t.availableMs!);
    expect(w.networkInterface(t.id)).toBeUndefined();
  });

  it('a launch creates its ENIs at once (available, holding their address) and attaches them seconds later', () => {
    const w = new World(scenario());
    const run = w.startJobRun('small');
    const mine = () => w.networkInterfaces().filter((e) => w.eniTruth().find((t) => t.id === e.NetworkInterfaceId)?.jobRunId === run.Id);
    expect(mine()).toHaveLength(8);
    expect(mine().every((e) => e.Status === 'available' && e.Attachment === undefined)).toBe(true);
    expect(w.freeAddresses('subnet-0b2')).toBe(3);
    w.advanceTo(START + 10_000);
    expect(mine().every((e) => e.Status === 'in-use' && e.Attachment!.AttachTime % 1000 === 0)).toBe(true);
    expect(w.jobRun(run.Id)!.JobRunState).toBe('RUNNING');
  });

  it('addresses come from the CIDR, skip the 4 first and the last, and are unique; usable = 2^(32-prefix) - 5', () => {
    const w = new World(scenario());
    w.advanceTo(START + 3 * 60 * MIN + MIN); // every launched ENI has attached
    const c = mustParseCidr('10.0.0.0/26');
    const ips = w
      .networkInterfaces()
      .filter((e) => e.SubnetId === 'subnet-0a1')
      .flatMap((e) => e.PrivateIpAddresses.map((p) => p.PrivateIpAddress));
    expect(new Set(ips).size).toBe(ips.length);
    for (const ip of ips) {
      const last = Number(ip.split('.')[3]);
      expect(ip.startsWith('10.0.0.')).toBe(true);
      expect(inRange(last, 4, c.size - 2)).toBe(true);
    }
    const sub = w.subnet('subnet-0a1')!;
    expect(sub.usable).toBe(2 ** (32 - 26) - 5);
    expect(sub.AvailableIpAddressCount).toBe(59 - ips.length);
    expect(w.subnet('subnet-0b2')!.usable).toBe(11);
  });

  it('other ENIs hold their addresses for the whole run', () => {
    const w = new World(scenario());
    const others = () => w.networkInterfaces().filter((e) => !e.RequesterManaged);
    expect(others()).toHaveLength(2);
    expect(others().every((e) => e.PrivateIpAddresses.length === 2 && e.Status === 'in-use')).toBe(true);
    w.advanceTo(START + 5 * DAY);
    expect(others()).toHaveLength(2);
  });
});

describe('launching', () => {
  it('a launch that finds too few free addresses fails at once with the exhaustion error and creates no ENI', () => {
    const w = new World(scenario());
    const first = w.startJobRun('small'); // 8 of 11
    expect(first.JobRunState).toBe('STARTING');
    const free = w.freeAddresses('subnet-0b2');
    expect(free).toBe(3);
    const enisBefore = w.eniTruth().length;
    const second = w.startJobRun('small');
    expect(second.JobRunState).toBe('FAILED');
    expect(second.ErrorMessage).toBe(EXHAUSTION_MESSAGE);
    expect(second.ErrorMessage).toBe('The specified subnet does not have enough free addresses to satisfy the request.');
    expect(second.CompletedOn).toBe(second.StartedOn);
    expect(second.ExecutionTime).toBe(0);
    w.advanceTo(START + MIN);
    expect(w.freeAddresses('subnet-0b2')).toBe(3);
    expect(w.eniTruth().filter((t) => t.jobRunId === second.Id)).toHaveLength(0);
    expect(w.eniTruth().filter((t) => t.jobRunId === first.Id)).toHaveLength(8);
    expect(w.eniTruth().length).toBe(enisBefore + 10); // only the 00:00 hourly run added ENIs since
    // A smaller worker count fits.
    expect(w.startJobRun('small', { workers: 3 }).JobRunState).toBe('STARTING');
    expect(w.freeAddresses('subnet-0b2')).toBe(0);
  });

  it('the blind launcher starts scheduled runs at their due time (cron in UTC)', () => {
    const w = new World(scenario());
    w.advanceTo(START + 3 * 60 * MIN + 1);
    expect(w.jobRuns('hourly').map((r) => new Date(r.StartedOn).toISOString())).toEqual([
      '2026-04-06T03:00:00.000Z',
      '2026-04-06T02:00:00.000Z',
      '2026-04-06T01:00:00.000Z',
      '2026-04-06T00:00:00.000Z',
    ]);
    expect(w.jobRuns('hourly').every((r) => r.source === 'schedule')).toBe(true);
  });

  it('with autoLaunch off, due launches wait for the driver, which can start, retry or drop them', () => {
    const events: WorldEvent[] = [];
    const w = new World(scenario(), { autoLaunch: false, listener: (e) => events.push(e) });
    w.advanceTo(START + 60 * MIN);
    expect(w.jobRuns()).toHaveLength(0);
    const due = w.dueLaunches();
    expect(due.map((d) => [d.jobName, d.dueAt, d.workers, d.source])).toEqual([
      ['hourly', START, 10, 'schedule'],
      ['hourly', START + 60 * MIN, 10, 'schedule'],
    ]);
    expect(events.filter((e) => e.type === 'launch-due')).toHaveLength(2);
    const run = w.launchDue(due[0].id, { at: START + 61 * MIN });
    expect(run.StartedOn).toBe(START + 61 * MIN);
    expect(run.source).toBe('schedule');
    expect(w.dropDue(due[1].id)).toBe(true);
    expect(w.dueLaunches()).toHaveLength(0);
    expect(() => w.launchDue(due[0].id)).toThrow(WorldError);
    expect(() => w.startJobRun('hourly', { at: START })).toThrow(/before the world's time/);
    expect(() => w.startJobRun('nope')).toThrow(/not found/);
    // Stepping event by event.
    const next = w.nextEventTime()!;
    expect(next).toBeGreaterThan(START + 61 * MIN);
  });

  it('ad-hoc launches are drawn per day within the configured hours', () => {
    const w = new World(
      scenario({
        adhoc: [{ connection: 'glue-a', workers: 2, perDay: 3, hours: { from: 9, to: 17 }, durationMinutes: { min: 10, max: 20 } }],
      }),
    );
    w.advanceTo(START + 20 * DAY);
    const runs = w.jobRuns('adhoc-backfill');
    expect(runs.length).toBeGreaterThan(30);
    expect(runs.length).toBeLessThan(100);
    for (const r of runs) {
      const hour = new Date(r.StartedOn).getUTCHours();
      expect(inRange(hour, 9, 16)).toBe(true);
      expect(r.source).toBe('adhoc');
      expect(r.NumberOfWorkers).toBe(2);
    }
  });

  it('a stopped run goes STOPPING then STOPPED and its ENIs detach within the stop bound', () => {
    const w = new World(scenario());
    const run = w.startJobRun('small');
    w.advanceTo(START + MIN);
    w.stopJobRun('small', run.Id);
    expect(w.jobRun(run.Id)!.JobRunState).toBe('STOPPING');
    w.advanceTo(START + 2 * MIN);
    expect(w.jobRun(run.Id)!.JobRunState).toBe('STOPPED');
    w.advanceTo(START + 2 * MIN + 5 * MIN);
    const mine = w.eniTruth().filter((t) => t.jobRunId === run.Id);
    expect(mine).toHaveLength(8);
    for (const t of mine) expect(t.detachedAt! - t.runEndedAt!).toBeLessThanOrEqual(5 * MIN);
    expect(() => w.stopJobRun('small', run.Id)).toThrow(/STOPPED/);
  });

  it('DeleteNetworkInterface is refused while in use and accepted once available', () => {
    const w = new World(scenario());
    const run = w.startJobRun('small');
    w.advanceTo(START + MIN);
    const t = w.eniTruth().find((x) => x.jobRunId === run.Id)!;
    expect(() => w.deleteNetworkInterface(t.id)).toThrow(`Network interface '${t.id}' is currently in use.`);
    w.advanceTo(t.runEndedAt ?? START + 30 * MIN);
    w.advanceTo(START + 30 * MIN + t.lingerMs!);
    expect(w.networkInterface(t.id)!.Status).toBe('available');
    const free = w.freeAddresses('subnet-0b2');
    w.deleteNetworkInterface(t.id);
    expect(w.networkInterface(t.id)).toBeUndefined();
    expect(w.freeAddresses('subnet-0b2')).toBe(free + 1);
    expect(w.eniTruth().find((x) => x.id === t.id)!.deletedBy).toBe('api');
    expect(() => w.deleteNetworkInterface(t.id)).toThrow(`The networkInterface ID '${t.id}' does not exist`);
  });
});

describe('determinism and speed', () => {
  const snapshot = (w: World) =>
    w.networkInterfaces().map((e) => `${e.NetworkInterfaceId} ${e.Status} ${e.PrivateIpAddress} ${e.Attachment?.AttachTime ?? '-'}`);

  it('same seed and scenario: identical ENI ids, IPs and states at the same time, however the time is stepped', () => {
    const s = loadScenarioFile(fileURLToPath(new URL('../../scenarios/seed-shared.yml', import.meta.url)));
    const a = new World(s);
    const b = new World(s);
    const at = Date.parse('2026-04-08T07:03:00Z');
    a.advanceTo(at);
    for (let t = s.start; t <= at; t += 7 * MIN + 13_000) b.advanceTo(t);
    b.advanceTo(at);
    expect(snapshot(a).length).toBeGreaterThan(10);
    expect(snapshot(b)).toEqual(snapshot(a));
    expect(b.jobRuns().map((r) => [r.Id, r.JobRunState])).toEqual(a.jobRuns().map((r) => [r.Id, r.JobRunState]));

    const c = new World({ ...s, seed: 43 });
    c.advanceTo(at);
    expect(snapshot(c)).not.toEqual(snapshot(a));
  });

  it('runs 90 virtual days of the shared scenario in a few seconds and reproduces the morning failures', () => {
    const s = loadScenarioFile(fileURLToPath(new URL('../../scenarios/seed-shared.yml', import.meta.url)));
    const t0 = performance.now();
    const w = new World(s);
    w.advanceTo(s.start + 90 * DAY);
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeLessThan(5_000);
    const failed = w.jobRuns().filter((r) => r.JobRunState === 'FAILED');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((r) => r.ErrorMessage === EXHAUSTION_MESSAGE)).toBe(true);
    expect(failed.some((r) => r.JobName === 'customer-analytics-daily' || r.JobName === 'product-metrics-daily')).toBe(true);
    // Never more addresses held than the subnet has.
    expect(w.freeAddresses(s.subnets[0].id)).toBeGreaterThanOrEqual(0);
  });
});
