import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RawEni, RawSample } from '../aws/types.js';
import { buildSnapshot, buildSnapshotSteps } from '../snapshot/build.js';
import { LifecycleTracker } from './tracker.js';

const GLUE = 'Attached to Glue using role: arn:aws:iam::123456789012:role/glue-etl';
const T0 = Date.parse('2026-04-09T05:00:00Z');
const MIN = 60_000;
const SUBNET = { subnetId: 'subnet-0a1', cidr: '10.0.0.0/26', availabilityZone: 'us-east-1a', availableIpAddressCount: 59 };
const glue = (runs: NonNullable<RawSample['glue']>['runs']) => ({
  connections: [{ name: 'glue-critical', subnetId: 'subnet-0a1' }],
  jobs: [{ name: 'reporting', connections: ['glue-critical'], workers: 1 }],
  runs,
});
const eni = (id: string, status: string, attachTime?: number): RawEni => ({
  id,
  subnetId: 'subnet-0a1',
  status,
  description: GLUE,
  requesterManaged: true,
  privateIpCount: 1,
  ipv4PrefixCount: 0,
  attachTime,
});

/** A fake world sampled once a minute: one job 05:00-05:30, its ENI in-use until 06:10, available until 06:45. */
function world(t: number): RawSample {
  const run = { jobName: 'reporting', id: 'jr_1', startedOn: T0, workers: 1 } as const;
  const runs = [t < T0 + 30 * MIN ? { ...run, state: 'RUNNING' } : { ...run, state: 'SUCCEEDED', completedOn: T0 + 30 * MIN }];
  const enis: RawEni[] = [];
  if (t < T0 + 70 * MIN) enis.push(eni('eni-1', 'in-use', T0 + 10_000));
  else if (t < T0 + 105 * MIN) enis.push(eni('eni-1', 'available'));
  return { subnets: [SUBNET], enis, glue: glue(runs) };
}

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'lifecycle-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function recorder() {
  const seen = { available: [] as number[], linger: [] as number[] };
  return {
    seen,
    events: {
      availableDuration: (_s: string, v: number) => seen.available.push(v),
      lingerDuration: (_s: string, v: number) => seen.linger.push(v),
    },
  };
}

/** What the sampler passes buildSnapshot for a sample at `t`. */
const snapshotOptions = (tracker: LifecycleTracker, t: number) => ({
  names: new Map<string, string>(),
  ownerDescriptionPrefixes: ['Attached to Glue using role'],
  takenAt: t,
  completedMono: 0,
  durationMs: 0,
  availableSince: (id: string) => tracker.availableSince(id),
});

function step(tracker: LifecycleTracker, t: number) {
  const raw = world(t);
  tracker.observe(raw, t);
  const snap = buildSnapshot(raw, snapshotOptions(tracker, t));
  tracker.markLingering(snap);
  return snap;
}

describe('LifecycleTracker', () => {
  it('times linger after the job end and the available tail, to the sample interval', () => {
    const { seen, events } = recorder();
    const tracker = new LifecycleTracker({ intervalSeconds: 60 });
    tracker.events = events;
    for (let t = T0; t <= T0 + 120 * MIN; t += MIN) step(tracker, t);
    expect(seen.linger).toEqual([40 * 60]);
    expect(seen.available).toEqual([35 * 60]);
  });

  it('reports the ages of the oldest lingering and available ENI', () => {
    const tracker = new LifecycleTracker({ intervalSeconds: 60 });
    for (let t = T0; t <= T0 + 50 * MIN; t += MIN) step(tracker, t);
    // lingering since its job ended at 05:30
    expect(tracker.ages('subnet-0a1', T0 + 50 * MIN)).toEqual({ oldestAvailableAgeSeconds: 0, oldestLingeringAgeSeconds: 20 * 60 });
    for (let t = T0 + 51 * MIN; t <= T0 + 80 * MIN; t += MIN) step(tracker, t);
    expect(tracker.ages('subnet-0a1', T0 + 80 * MIN)).toEqual({ oldestAvailableAgeSeconds: 10 * 60, oldestLingeringAgeSeconds: 0 });
  });

  it('keeps its memory across a restart', async () => {
    const dataDir = tmp();
    const { seen, events } = recorder();
    const first = new LifecycleTracker({ dataDir, intervalSeconds: 60 });
    first.events = events;
    for (let t = T0; t <= T0 + 80 * MIN; t += MIN) {
      step(first, t);
      await first.save();
    }
    const second = new LifecycleTracker({ dataDir, intervalSeconds: 60 });
    second.events = events;
    expect(second.load()).toBeUndefined();
    expect(second.availableSince('eni-1')).toBe(T0 + 70 * MIN);
    for (let t = T0 + 81 * MIN; t <= T0 + 120 * MIN; t += MIN) step(second, t);
    expect(seen.available).toEqual([35 * 60]);
  });

  it('does not time a disappearance across a long outage', () => {
    const { seen, events } = recorder();
    const tracker = new LifecycleTracker({ intervalSeconds: 60 });
    tracker.events = events;
    for (let t = T0; t <= T0 + 80 * MIN; t += MIN) step(tracker, t);
    step(tracker, T0 + 200 * MIN);
    expect(seen.available).toEqual([]);
  });

  it('trusts the sampler on contiguity, whatever the data clock says', () => {
    const { seen, events } = recorder();
    const tracker = new LifecycleTracker({ intervalSeconds: 2 });
    tracker.events = events;
    // A 2 s real schedule over a fast virtual clock: minutes apart in data time, yet contiguous.
    for (let t = T0; t <= T0 + 120 * MIN; t += MIN) {
      const raw = world(t);
      tracker.observe(raw, t, { contiguous: true });
    }
    expect(seen.available).toEqual([35 * 60]);
    const missed = new LifecycleTracker({ intervalSeconds: 60 });
    const r2 = recorder();
    missed.events = r2.events;
    for (let t = T0; t <= T0 + 120 * MIN; t += MIN) missed.observe(world(t), t, { contiguous: t < T0 + 100 * MIN });
    expect(r2.seen.available).toEqual([]);
  });

  it('counts each exhaustion failure once, across restarts', async () => {
    const dataDir = tmp();
    const { events } = recorder();
    const failed = {
      jobName: 'reporting',
      id: 'jr_x',
      state: 'FAILED',
      startedOn: T0,
      errorMessage: 'The specified subnet does not have enough free addresses to satisfy the request.',
    };
    const raw: RawSample = { subnets: [SUBNET], enis: [], glue: glue([failed]) };
    const a = new LifecycleTracker({ dataDir, intervalSeconds: 60 });
    a.events = events;
    a.observe(raw, T0);
    a.observe(raw, T0 + MIN);
    await a.save();
    const b = new LifecycleTracker({ dataDir, intervalSeconds: 60 });
    b.events = events;
    b.load();
    b.observe(raw, T0 + 2 * MIN);
    expect(b.failureTotals()).toEqual(new Map([['subnet-0a1|reporting', 1]]));
  });

  it('sets a corrupt state file aside instead of trusting it', () => {
    const dataDir = tmp();
    writeFileSync(join(dataDir, 'lifecycle.json'), '{"version":1,"enis":');
    const tracker = new LifecycleTracker({ dataDir, intervalSeconds: 60 });
    expect(tracker.load()).toMatch(/unreadable/);
    expect(readdirSync(dataDir).some((f) => f.startsWith('lifecycle.json.corrupt-'))).toBe(true);
  });

  it('sets each bad record aside, keeps the good ones, and names them', () => {
    const dataDir = tmp();
    const good = { subnetId: 'subnet-0a1', status: 'available', seenBeforeAvailable: true, availableSince: T0, lastSeen: T0 };
    writeFileSync(
      join(dataDir, 'lifecycle.json'),
      JSON.stringify({
        version: 1,
        lastSampleAt: -1,
        enis: {
          'eni-good': good,
          'eni-str': { ...good, availableSince: 'yesterday' },
          'eni-neg': { ...good, lastSeen: -60_000 },
          'eni-null': null,
          'eni-sub': { ...good, subnetId: 42 },
          ['__proto__']: good,
          'not-an-eni': good,
        },
        countedFailures: { jr_1: T0, jr_2: 'then' },
        failureTotals: { 'subnet-0a1|reporting': 2, 'subnet-0a1|other': 'NaN', 'subnet-0a1|neg': -1, nonsense: 1 },
      }),
    );
    const tracker = new LifecycleTracker({ dataDir, intervalSeconds: 60 });
    const note = tracker.load() ?? '';
    expect(note).toMatch(/^lifecycle state: set aside 11 bad record\(s\), kept the rest \(original kept as lifecycle\.json\.corrupt-\d+\): /);
    for (const named of [
      'enis.eni-str (availableSince)',
      'enis.eni-neg (lastSeen): expected a time in epoch ms, not negative',
      'enis.eni-null: Invalid input: expected object, received null',
      'enis.eni-sub (subnetId)',
      'enis.__proto__ (key)',
      'enis.not-an-eni (key): unexpected key',
      'countedFailures.jr_2',
      'failureTotals.subnet-0a1|other',
      'failureTotals.subnet-0a1|neg',
      'failureTotals.nonsense (key)',
    ]) {
      expect(note).toContain(named);
    }
    // Ten are named; the rest are counted.
    expect(note).toMatch(/; and 1 more$/);
    expect(tracker.availableSince('eni-good')).toBe(T0);
    expect(tracker.availableSince('eni-str')).toBeUndefined();
    expect(tracker.failureTotals()).toEqual(new Map([['subnet-0a1|reporting', 2]]));
    expect(Number.isFinite(tracker.ages('subnet-0a1', T0 + MIN).oldestAvailableAgeSeconds)).toBe(true);
    // The checked state replaced the file; the original is kept beside it.
    expect(Object.keys(JSON.parse(readFileSync(join(dataDir, 'lifecycle.json'), 'utf8')).enis)).toEqual(['eni-good']);
    expect(readdirSync(dataDir).filter((f) => f.startsWith('lifecycle.json.corrupt-'))).toHaveLength(1);
  });

  it('drops a field that is not a map of records (null, an array) and keeps the rest', () => {
    for (const enis of [null, Array.from({ length: 100_000 }, (_, i) => i), 'all of them']) {
      const dataDir = tmp();
      writeFileSync(join(dataDir, 'lifecycle.json'), JSON.stringify({ version: 1, enis, failureTotals: { 'subnet-0a1|reporting': 1 } }));
      const tracker = new LifecycleTracker({ dataDir, intervalSeconds: 60 });
      expect(tracker.load()).toMatch(/set aside 1 bad record\(s\).*: enis: expected an object of records, got (null|an array|string)$/);
      expect(tracker.failureTotals()).toEqual(new Map([['subnet-0a1|reporting', 1]]));
      // The sample that used to throw on `enis: null` goes through.
      expect(() => step(tracker, T0)).not.toThrow();
    }
  });

  it('saves the text JSON.stringify gives of its memory, off the event loop, and loads it back', async () => {
    const dataDir = tmp();
    const tracker = new LifecycleTracker({ dataDir, intervalSeconds: 60 });
    const failed = {
      jobName: 'reporting',
      id: 'jr_x',
      state: 'FAILED',
      startedOn: T0,
      errorMessage: `subnet ${'does not have enough free addresses'}`,
    };
    // More ENIs than one slice of the serialization, in every state the memory records.
    const many = (status: (i: number) => string): RawSample => ({
      subnets: [SUBNET],
      enis: Array.from({ length: 4_500 }, (_, i) => eni(`eni-${i.toString(16).padStart(6, '0')}`, status(i), T0 + 10_000)),
      glue: glue([{ jobName: 'reporting', id: 'jr_1', state: 'SUCCEEDED', startedOn: T0, completedOn: T0 + 5 * MIN, workers: 1 }, failed]),
    });
    for (const [t, status] of [
      [T0, () => 'in-use'],
      [T0 + MIN, (i: number) => (i % 3 === 0 ? 'available' : 'in-use')],
      [T0 + 2 * MIN, (i: number) => (i % 5 === 0 ? 'available' : 'in-use')],
    ] as const) {
      const raw = many(status);
      tracker.observe(raw, t);
      tracker.markLingering(buildSnapshot(raw, snapshotOptions(tracker, t)));
    }
    // The file's text: the same bytes as one JSON.stringify of the memory (the format earlier versions wrote).
    const expected = JSON.stringify({
      version: 1,
      enis: Object.fromEntries((tracker as unknown as { state: { enis: Map<string, unknown> } }).state.enis),
      countedFailures: { jr_x: T0 },
      failureTotals: { 'subnet-0a1|reporting': 1 },
      lastSampleAt: T0 + 2 * MIN,
    });
    const saving = tracker.save();
    expect(existsSync(join(dataDir, 'lifecycle.json'))).toBe(false); // nothing written before the loop turns
    await saving;
    const text = readFileSync(join(dataDir, 'lifecycle.json'), 'utf8');
    expect(text).toBe(expected);
    const back = new LifecycleTracker({ dataDir, intervalSeconds: 60 });
    expect(back.load()).toBeUndefined();
    expect(back.availableSince('eni-000000')).toBe(T0 + MIN);
    expect(back.availableSince('eni-000005')).toBe(T0 + 2 * MIN);
    expect(back.availableSince('eni-000001')).toBeUndefined();
    expect(back.ages('subnet-0a1', T0 + 3 * MIN)).toEqual(tracker.ages('subnet-0a1', T0 + 3 * MIN));
    expect(back.failureTotals()).toEqual(new Map([['subnet-0a1|reporting', 1]]));
    expect(readdirSync(dataDir)).toEqual(['lifecycle.json']);
  });

  it('a sample during a save starts its serialization over: the file holds one whole state, the newest', async () => {
    const dataDir = tmp();
    const tracker = new LifecycleTracker({ dataDir, intervalSeconds: 60 });
    const sample = (n: number): RawSample => ({
      subnets: [SUBNET],
      enis: Array.from({ length: n }, (_, i) => eni(`eni-${i.toString(16).padStart(6, '0')}`, 'in-use', T0)),
      glue: glue([]),
    });
    tracker.observe(sample(9_000), T0);
    const first = tracker.save(); // serializes its first slice now, the rest after turns of the event loop
    await new Promise((r) => setImmediate(r));
    tracker.observe(sample(3_000), T0 + MIN); // 6,000 ENIs gone
    const second = tracker.save();
    const check = () => {
      const saved = JSON.parse(readFileSync(join(dataDir, 'lifecycle.json'), 'utf8'));
      expect(saved.lastSampleAt).toBe(T0 + MIN);
      expect(Object.keys(saved.enis)).toHaveLength(3_000);
      expect(Object.values(saved.enis).every((m) => (m as { lastSeen: number }).lastSeen === T0 + MIN)).toBe(true);
    };
    // The first write already holds the newest state, not the first slice of one and the rest of the other.
    await first;
    check();
    await second;
    check();
  });

  it('a save that cannot write rejects with the reason; the memory is kept', async () => {
    const parent = tmp();
    const dataDir = join(parent, 'not-a-dir');
    writeFileSync(dataDir, 'a file where the data dir should be');
    const tracker = new LifecycleTracker({ dataDir, intervalSeconds: 60 });
    step(tracker, T0);
    await expect(tracker.save()).rejects.toThrow(/ENOTDIR|EEXIST/);
    expect(tracker.ages('subnet-0a1', T0 + MIN).oldestLingeringAgeSeconds).toBe(0);
    expect(tracker.availableSince('eni-1')).toBeUndefined();
    await tracker.saved();
  });

  it('folds a sample in slices with the event loop turning between them: the same memory and snapshot as at once', async () => {
    const dataDir = tmp();
    const opts = snapshotOptions;
    // 6,000 ENIs; between samples some turn available, some go, some come.
    const sample = (k: number): RawSample => ({
      subnets: [SUBNET],
      enis: Array.from({ length: 6_000 }, (_, i) => i + 500 * k)
        .filter((i) => i % 7 !== k)
        .map((i) => eni(`eni-${i.toString(16).padStart(6, '0')}`, i % (3 + k) === 0 ? 'available' : 'in-use', T0 + 10_000)),
      glue: glue([{ jobName: 'reporting', id: 'jr_1', state: 'SUCCEEDED', startedOn: T0, completedOn: T0 + 5 * MIN, workers: 1 }]),
    });
    const once = new LifecycleTracker({ intervalSeconds: 60 });
    const sliced = new LifecycleTracker({ dataDir, intervalSeconds: 60 });
    const eventsOf = (t: LifecycleTracker) => {
      const r = recorder();
      t.events = r.events;
      return r.seen;
    };
    const seenOnce = eventsOf(once);
    const seenSliced = eventsOf(sliced);
    for (let k = 0; k < 4; k++) {
      const t = T0 + (10 + k) * MIN;
      const raw = sample(k);
      once.observe(raw, t);
      const expected = buildSnapshot(raw, opts(once, t));
      once.markLingering(expected);

      const before = sliced.ages('subnet-0a1', t);
      let turns = 0;
      let agesMeanwhile: ReturnType<LifecycleTracker['ages']>[] = [];
      const ticker = setInterval(() => {
        turns++;
        agesMeanwhile.push(sliced.ages('subnet-0a1', t));
      }, 0);
      const folded = sliced.foldSample(raw, t, {}, () => buildSnapshotSteps(raw, opts(sliced, t)));
      const saving = sliced.save(); // waits for the sample to be whole
      const snapshot = await folded;
      clearInterval(ticker);
      expect(snapshot).toEqual(expected);
      // Timers ran between the slices, and every scrape among them saw the ages as before the sample.
      expect(turns).toBeGreaterThan(k === 0 ? 0 : 2);
      expect(agesMeanwhile.every((a) => a.oldestAvailableAgeSeconds === before.oldestAvailableAgeSeconds)).toBe(true);
      agesMeanwhile = [];
      expect(sliced.ages('subnet-0a1', t + MIN)).toEqual(once.ages('subnet-0a1', t + MIN));
      await saving;
      const saved = JSON.parse(readFileSync(join(dataDir, 'lifecycle.json'), 'utf8'));
      expect(saved.lastSampleAt).toBe(t);
    }
    expect(seenSliced).toEqual(seenOnce);
    expect(seenOnce.available.length + seenOnce.linger.length).toBeGreaterThan(0);
    for (const id of ['eni-000000', 'eni-000600', 'eni-001000', 'eni-001770']) expect(sliced.availableSince(id)).toBe(once.availableSince(id));
  });

  it('a scrape between the slices of a sample sees the ages as they were before it, until it is whole', async () => {
    const tracker = new LifecycleTracker({ intervalSeconds: 60 });
    const ids = (from: number, to: number, status: (i: number) => string) =>
      Array.from({ length: to - from }, (_, k) => eni(`eni-${(from + k).toString(16).padStart(6, '0')}`, status(from + k)));
    const build = (raw: RawSample, t: number) => () => buildSnapshotSteps(raw, snapshotOptions(tracker, t));
    // The first 100 turn available at T0 + 1 min; the next sample no longer has them (deleted).
    const a: RawSample = { subnets: [SUBNET], enis: ids(0, 6_000, () => 'in-use'), glue: glue([]) };
    const b: RawSample = { subnets: [SUBNET], enis: ids(0, 6_000, (i) => (i < 100 ? 'available' : 'in-use')), glue: glue([]) };
    const c: RawSample = { subnets: [SUBNET], enis: ids(100, 6_100, () => 'in-use'), glue: glue([]) };
    await tracker.foldSample(a, T0, {}, build(a, T0));
    await tracker.foldSample(b, T0 + MIN, {}, build(b, T0 + MIN));
    const now = T0 + 2 * MIN;
    expect(tracker.ages('subnet-0a1', now).oldestAvailableAgeSeconds).toBe(60);
    const meanwhile: number[] = [];
    const ticker = setInterval(() => meanwhile.push(tracker.ages('subnet-0a1', now).oldestAvailableAgeSeconds), 0);
    await tracker.foldSample(c, now, {}, build(c, now));
    clearInterval(ticker);
    expect(meanwhile.length).toBeGreaterThan(2);
    expect(new Set(meanwhile)).toEqual(new Set([60]));
    expect(tracker.ages('subnet-0a1', now).oldestAvailableAgeSeconds).toBe(0);
  });
});
