import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildSnapshot } from '../snapshot/build.js';
import { World } from '../sim/model.js';
import { loadScenarioFile, parseScenario, type ScenarioInput } from '../sim/scenario.js';
import { WorldMirror } from './mirror.js';
import { backtestPolicies, runBacktest } from './run.js';

const scenarioPath = (p: string) => fileURLToPath(new URL(`../../scenarios/${p}`, import.meta.url));

/** Two 8-worker jobs a minute apart in a /28 (11 usable): the second cannot fit until the first one's tail is gone. */
function tiny(over: Partial<ScenarioInput> = {}) {
  return parseScenario({
    start: '2026-04-06T00:00:00Z',
    seed: 3,
    subnets: [{ id: 'subnet-0f1', cidr: '10.9.0.0/28', availabilityZone: 'us-east-1a' }],
    connections: [{ name: 'c', subnet: 'subnet-0f1' }],
    jobs: [
      { name: 'first', connection: 'c', workers: 8, schedule: '0 0 * * *', durationMinutes: { min: 5, max: 5 } },
      { name: 'second', connection: 'c', workers: 8, schedule: '1 0 * * *', durationMinutes: { min: 5, max: 5 } },
    ],
    lifecycle: { lingerInUseMinutes: { min: 30, max: 30 }, availableMinutes: { min: 30, max: 30 } },
    ...over,
  });
}

/**
 * `tiny`, with a tail that ends at a known time: the first run's 8 ENIs end at 00:05, linger to 00:15, are deleted
 * at 00:25; the second launch (due 00:01) fits from 00:25 on. Its deadline is `deadline` minutes.
 */
function timed(deadline: number) {
  const base = tiny().jobs;
  return tiny({
    lifecycle: { lingerInUseMinutes: { min: 10, max: 10 }, availableMinutes: { min: 10, max: 10 } },
    jobs: [base[0], { ...base[1], deadlineMinutes: deadline }],
  });
}

describe('runBacktest: deadlines, baselines and what users feel', () => {
  it('blind: the launch that does not fit is one failed attempt and one missed run', () => {
    const r = runBacktest({ scenario: timed(30), days: 0.5, policy: 'none' });
    expect(r).toMatchObject({ sensor: null, runs: 2, missedRuns: 1, missedRate: 0.5, exhaustionFailures: 1, failedAttempts: 1, gaveUp: 0 });
    expect(r.jobs.find((j) => j.job === 'second')).toMatchObject({ runs: 1, missedRuns: 1, exhaustionFailures: 1 });
  });

  it('blind-retry relaunches every 5 minutes until its deadline: 5 failed attempts, then it runs at 00:26', () => {
    const r = runBacktest({ scenario: timed(30), days: 0.5, policy: 'blind-retry' });
    // Attempts at 00:01, :06, :11, :16, :21 fail; :26 runs (the addresses are back at 00:25).
    expect(r).toMatchObject({ runs: 2, missedRuns: 0, exhaustionFailures: 0, failedAttempts: 5, held: 1, gaveUp: 0 });
    expect(r.maxWaitSeconds).toBe(25 * 60);
    expect(r.p95WaitSeconds).toBe(25 * 60);
    expect(r.totalWaitHours).toBe(Math.round((25 / 60) * 100) / 100);
    expect(r.decisions).toBe(0);
  });

  it('blind-retry with a 20-minute deadline: the last attempt at 00:21 fails and the run is missed', () => {
    const r = runBacktest({ scenario: timed(20), days: 0.5, policy: 'blind-retry' });
    expect(r).toMatchObject({ missedRuns: 1, exhaustionFailures: 1, failedAttempts: 5, held: 1, maxWaitSeconds: 0 });
    expect(r.totalWaitHours).toBe(Math.round((20 / 60) * 100) / 100);
  });

  it('the oracle launches at the first minute the live world has room, never fails, and misses only past the deadline', () => {
    const r = runBacktest({ scenario: timed(30), days: 0.5, policy: 'oracle' });
    expect(r).toMatchObject({ sensor: null, missedRuns: 0, exhaustionFailures: 0, failedAttempts: 0, held: 1, decisions: 0 });
    // Deleted at 00:25:00; the poke of 00:25:00 sees it.
    expect(r.maxWaitSeconds).toBe(24 * 60);
    const late = runBacktest({ scenario: timed(23), days: 0.5, policy: 'oracle' });
    expect(late).toMatchObject({ missedRuns: 1, gaveUp: 1, exhaustionFailures: 0 });
    expect(late.totalWaitHours).toBe(Math.round((23 / 60) * 100) / 100);
  });

  it('the oracle serves waiting runs in arrival order: the older one takes the room first', () => {
    // A third 8-worker run due 00:02: at 00:25 the room (11 free) fits one; the second (due 00:01) goes, the third
    // when the second's addresses are back (00:25 + 5 min of work + 10 linger + 10 available = 00:50).
    const s = timed(60);
    const scenario = { ...s, jobs: [...s.jobs, { ...s.jobs[1], name: 'third', schedule: '2 0 * * *' }] };
    const r = runBacktest({ scenario, days: 0.5, policy: 'oracle' });
    expect(r).toMatchObject({ runs: 3, missedRuns: 0, held: 2 });
    expect(r.jobs.map((j) => [j.job, j.maxWaitSeconds])).toEqual([
      ['first', 0],
      ['second', 24 * 60],
      ['third', 48 * 60],
    ]);
  });

  it('the report sensor gives up 10 minutes after the due time, or at the deadline when that comes first', () => {
    const over = { policySettings: { minBuffer: 0 } };
    const ten = runBacktest({ scenario: timed(30), days: 0.5, policy: 'rolling-max', ...over });
    expect(ten).toMatchObject({ sensor: 'report', missedRuns: 1, gaveUp: 1, held: 1, exhaustionFailures: 0 });
    expect(ten.decisions).toBe(1 + 11); // pokes at +0 … +10 min
    const five = runBacktest({ scenario: timed(5), days: 0.5, policy: 'rolling-max', ...over });
    expect(five).toMatchObject({ missedRuns: 1, gaveUp: 1 });
    expect(five.decisions).toBe(1 + 6); // pokes at +0 … +5 min
    expect(five.totalWaitHours).toBe(Math.round((5 / 60) * 100) / 100);
  });

  /** `timed`, with the second launch due at 00:06, after the first run ended: its ENIs linger, a release is predicted. */
  function afterEnd(deadline: number) {
    const s = timed(deadline);
    return { ...s, jobs: [s.jobs[0], { ...s.jobs[1], schedule: '6 0 * * *' }] };
  }

  it('the eta sensor fails at once when told its deadline cannot be met (the field prior: releases 90+ min away)', () => {
    // Nothing learned yet: the field's linger (60–100 min) and available time (30–40 min) predict the first run's
    // addresses back no sooner than 00:05 + 90 min, past a 00:36 deadline. The oracle knows they are back at 00:25.
    const scenario = afterEnd(30);
    const reasons: string[] = [];
    const r = runBacktest({
      scenario,
      days: 0.5,
      policy: 'forecast',
      policySettings: { minBuffer: 0 },
      sensor: { kind: 'eta' },
      onDecision: (d) => reasons.push(d.decision.reason),
    });
    expect(r).toMatchObject({ sensor: 'eta', missedRuns: 1, gaveUp: 1, held: 1, exhaustionFailures: 0, decisions: 2 });
    expect(reasons[1]).toMatch(/room for 8 expected in ~[\d.]+ (min|h), 0 ahead; the deadline .* cannot be met$/);
    expect(runBacktest({ scenario, days: 0.5, policy: 'oracle' })).toMatchObject({ missedRuns: 0, maxWaitSeconds: 19 * 60 });
  });

  it('the eta sensor keeps its ticket, pokes after each retry_after and launches once a sample shows room', () => {
    const reasons: string[] = [];
    const etas: (number | null | undefined)[] = [];
    const answers: number[] = [];
    let launchedAt = 0;
    const r = runBacktest({
      scenario: afterEnd(180),
      days: 0.5,
      policy: 'forecast',
      policySettings: { minBuffer: 0 },
      sensor: { kind: 'eta' },
      onDecision: (d) => {
        reasons.push(d.decision.reason);
        etas.push(d.queue?.etaSeconds);
        if (!d.decision.admit && typeof d.queue?.etaSeconds === 'number') answers.push(d.at + d.queue.etaSeconds * 1000);
        else if (d.decision.admit) launchedAt = d.at;
      },
    });
    // Every wait answer's error, each counted: nearest-rank p90 of these few is the largest.
    const allErrors = answers.map((at) => Math.abs(launchedAt - at) / 1000);
    expect(allErrors.length).toBeGreaterThan(1);
    expect(r.etaErrorAllP90Seconds).toBe(Math.max(...allErrors));
    // Pokes at 00:06, :11, :16, :21 (retry_after 300 s: half the ETA, at most 5 min) wait; the one at 00:26 reads
    // the 00:25 sample, which shows the addresses back.
    expect(r).toMatchObject({ missedRuns: 0, gaveUp: 0, held: 1, exhaustionFailures: 0, decisions: 1 + 5 });
    expect(r.maxWaitSeconds).toBe(20 * 60);
    const eta = etas[1] as number;
    expect(eta).toBeGreaterThan(85 * 60);
    // The prediction is the first wait answer's ETA; it was late by eta − 20 minutes.
    expect(r.etaErrorP90Seconds).toBe(eta - 20 * 60);
    expect(reasons.slice(1, 5).every((x) => /, 0 ahead$/.test(x))).toBe(true);
    expect(etas.at(-1)).toBe(0);
    // The informed reference knows the lifecycle (10 min linger, 10 available): every answer it gives is 00:25,
    // the moment the addresses come back; the launch reads the 00:25 sample at the poke of 00:26.
    expect(r.etaErrorInformedP90Seconds).toBe(60);
    expect(r.etaErrorInformedAllP90Seconds).toBe(60);
  });

  it('per subnet and per job, the counts add up to the totals', () => {
    const scenario = loadScenarioFile(scenarioPath('seed-split.yml'));
    for (const policy of ['none', 'blind-retry', 'rolling-max', 'oracle'] as const) {
      const r = runBacktest({ scenario, days: 7, policy });
      for (const k of ['runs', 'missedRuns', 'exhaustionFailures', 'failedAttempts', 'held', 'gaveUp'] as const) {
        expect(
          r.subnets.reduce((n, s) => n + s[k], 0),
          `${policy} ${k}`,
        ).toBe(r[k]);
        expect(
          r.jobs.reduce((n, j) => n + j[k], 0),
          `${policy} ${k}`,
        ).toBe(r[k]);
      }
      expect(r.missedRuns).toBe(r.exhaustionFailures + r.gaveUp);
    }
  });
});

describe('runBacktest', () => {
  it('the blind launcher fails the launch that does not fit; a gated one holds it and gives up after 10 minutes', () => {
    const blind = runBacktest({ scenario: tiny(), days: 0.5, policy: 'none' });
    expect(blind).toMatchObject({ runs: 2, exhaustionFailures: 1, failureRate: 0.5, held: 0, gaveUp: 0 });
    const gated = runBacktest({ scenario: tiny(), days: 0.5, policy: 'rolling-max', policySettings: { minBuffer: 0 } });
    expect(gated).toMatchObject({ runs: 2, exhaustionFailures: 0, held: 1, gaveUp: 1, medianWaitSeconds: 0 });
    // Due at 00:01, poked at +0 … +600 s: 11 decisions for it, 1 for the first job.
    expect(gated.decisions).toBe(12);
    // The first run's 8 ENIs hold their addresses 30 + 30 minutes after its 5 minutes of work.
    expect(gated.tailIpMinutes).toBeCloseTo(8 * 60, 0);
    expect(gated.peakUtilization).toBeCloseTo(8 / 11, 3);
  });

  it('a held launch goes as soon as a sample shows room, and its wait is counted', () => {
    // The first run's tail ends 5 + 1 + 1 minutes after it starts (plus attach delay): the second waits ~7 minutes.
    const s = tiny({ lifecycle: { lingerInUseMinutes: { min: 1, max: 1 }, availableMinutes: { min: 1, max: 1 } } });
    const r = runBacktest({ scenario: s, days: 0.5, policy: 'forecast', policySettings: { minBuffer: 0 } });
    expect(r).toMatchObject({ runs: 2, exhaustionFailures: 0, held: 1, gaveUp: 0 });
    expect(r.maxWaitSeconds).toBeGreaterThanOrEqual(360);
    expect(r.maxWaitSeconds).toBeLessThanOrEqual(480);
    expect(r.medianWaitSeconds).toBe(r.maxWaitSeconds);
    // Rolling-max remembers the 8 available ENIs for 5 observations after they are gone, past the timeout.
    const reasons: string[] = [];
    const rolling = runBacktest({
      scenario: s,
      days: 0.5,
      policy: 'rolling-max',
      policySettings: { minBuffer: 0 },
      onDecision: (d) => reasons.push(d.decision.reason),
    });
    expect(rolling).toMatchObject({ held: 1, gaveUp: 1 });
    expect(reasons.at(-1)).toMatch(/^free 11 − reserved 0 < workers 8 \+ buffer 8/);
  });

  it('launch sources listed in sensor.blindSources bypass the gate under any policy', () => {
    const r = runBacktest({
      scenario: tiny(),
      days: 0.5,
      policy: 'forecast',
      policySettings: { minBuffer: 0 },
      sensor: { blindSources: ['schedule'] },
    });
    expect(r).toMatchObject({ runs: 2, exhaustionFailures: 1, held: 0, gaveUp: 0, decisions: 0 });
    expect(r.jobs.map((j) => [j.job, j.runs, j.exhaustionFailures])).toEqual([
      ['first', 1, 0],
      ['second', 1, 1],
    ]);
  });

  it('on a /22 the blind launcher never fails and no policy holds anything', () => {
    const scenario = loadScenarioFile(scenarioPath('backtest/large-22.yml'));
    for (const policy of backtestPolicies) {
      const r = runBacktest({ scenario, days: 14, policy });
      expect(r.runs).toBeGreaterThan(400);
      expect(r.missedRuns, policy).toBe(0);
      expect(r.exhaustionFailures, policy).toBe(0);
      expect(r.held, policy).toBe(0);
      expect(r.gaveUp, policy).toBe(0);
    }
  });

  it("with a tail twice the report's, blind launches fail and rolling-max still has 0 failures", () => {
    const scenario = loadScenarioFile(scenarioPath('backtest/big-tail.yml'));
    expect(scenario.lifecycle.lingerInUseMinutes.max).toBe(2 * 65);
    expect(scenario.lifecycle.availableMinutes).toEqual({ min: 2 * 30, max: 2 * 40 });
    const blind = runBacktest({ scenario, days: 28, policy: 'none' });
    expect(blind.exhaustionFailures).toBeGreaterThan(0);
    const gated = runBacktest({ scenario, days: 28, policy: 'rolling-max' });
    expect(gated.runs).toBe(blind.runs);
    expect(gated.exhaustionFailures).toBe(0);
    expect(gated.held).toBeGreaterThan(0);
  });

  it('the calibrated shared /26 fails about a quarter of blind launches, and no gated policy fails any', () => {
    const scenario = loadScenarioFile(scenarioPath('seed-shared.yml'));
    const blind = runBacktest({ scenario, days: 28, policy: 'none' });
    expect(blind.failureRate).toBeGreaterThan(0.18);
    expect(blind.failureRate).toBeLessThan(0.32);
    const rolling = runBacktest({ scenario, days: 28, policy: 'rolling-max' });
    const forecast = runBacktest({ scenario, days: 28, policy: 'forecast' });
    expect(rolling.exhaustionFailures).toBe(0);
    expect(forecast.exhaustionFailures).toBe(0);
    expect(forecast.held).toBeLessThan(rolling.held);
  });

  it('forecast holds fewer launches than rolling-max where the launches themselves fill the subnet, with 0 failures', () => {
    // Every launch goes through the gate here, so after its first day forecast's learned margin is 0.
    for (const file of ['seed-split.yml', 'backtest/burst-27.yml']) {
      const scenario = loadScenarioFile(scenarioPath(file));
      const rolling = runBacktest({ scenario, days: 28, policy: 'rolling-max' });
      const forecast = runBacktest({ scenario, days: 28, policy: 'forecast' });
      expect(rolling.exhaustionFailures, file).toBe(0);
      expect(forecast.exhaustionFailures, file).toBe(0);
      expect(forecast.held, file).toBeLessThan(rolling.held);
      expect(forecast.gaveUp, file).toBeLessThan(rolling.gaveUp);
    }
  });

  it('forecast learns the size of launches that bypass the gate and keeps the gated ones from failing', () => {
    const scenario = loadScenarioFile(scenarioPath('backtest/big-tail.yml'));
    const margins = new Map<number, string>();
    const r = runBacktest({
      scenario,
      days: 14,
      policy: 'forecast',
      sensor: { blindSources: ['adhoc'] }, // the 10-worker reruns are started by hand
      onDecision: (d) =>
        margins.set(
          Math.floor((d.at - scenario.start) / 86_400_000),
          /buffer = (margin \d+ \((?:min buffer|most bypass))/.exec(d.decision.reason)?.[1] ?? '',
        ),
    });
    // Minimum buffer for the first day watched, then what the bypasses took.
    expect(margins.get(0)).toBe('margin 10 (min buffer');
    expect(margins.get(1)).toBe('margin 10 (most bypass');
    expect(margins.get(13)).toBe('margin 10 (most bypass');
    for (const j of r.jobs.filter((x) => x.job !== 'rerun')) expect(j.exhaustionFailures, j.job).toBe(0);
  });

  it('is deterministic: the same seed gives the same result', () => {
    const scenario = loadScenarioFile(scenarioPath('seed-split.yml'));
    for (const policy of ['forecast', 'blind-retry', 'oracle'] as const) {
      const a = runBacktest({ scenario, days: 7, policy });
      const b = runBacktest({ scenario, days: 7, policy });
      expect(JSON.stringify(b), policy).toBe(JSON.stringify(a));
    }
    const eta = () => runBacktest({ scenario, days: 7, policy: 'rolling-max', sensor: { kind: 'eta' } });
    const first = eta();
    expect(first.held).toBeGreaterThan(0);
    expect(JSON.stringify(eta())).toBe(JSON.stringify(first));
  });

  it('rejects bad days and unknown policies, naming them', () => {
    expect(() => runBacktest({ scenario: tiny(), days: 0, policy: 'none' })).toThrow(/^days:/);
    expect(() => runBacktest({ scenario: tiny(), days: 1, policy: 'bogus' as never })).toThrow(/^policy:/);
    expect(() => runBacktest({ scenario: tiny(), days: 1, policy: 'forecast', sensor: { kind: 'psychic' as never } })).toThrow(/^sensor\.kind:/);
  });
});

describe('WorldMirror', () => {
  it('feeds buildSnapshot the world as the sampler would read it: free matches AvailableIpAddressCount, lingering is counted', () => {
    const scenario = loadScenarioFile(scenarioPath('seed-shared.yml'));
    const mirror = new WorldMirror();
    const world = new World(scenario, { listener: mirror.onEvent });
    mirror.attach(world);
    let sawLingering = false;
    let sawAvailable = false;
    for (let minute = 1; minute <= 24 * 60; minute += 7) {
      const t = scenario.start + minute * 60_000;
      world.advanceTo(t);
      mirror.touch();
      const cap = mirror.capture(t);
      const snap = buildSnapshot(cap.raw, {
        names: new Map(),
        ownerDescriptionPrefixes: ['Attached to Glue using role'],
        takenAt: t,
        completedMono: 0,
        durationMs: 0,
        availableSince: cap.availableSince,
      });
      const view = snap.subnets[0];
      expect(view.free).toBe(world.freeAddresses(view.subnetId));
      expect(view.free).toBe(view.awsAvailable);
      expect(view.totalEnis).toBe(world.networkInterfaces().length);
      const truthInUse = world.networkInterfaces().filter((n) => n.Status === 'in-use').length;
      expect(view.inUse).toBe(truthInUse);
      if ((view.lingering ?? 0) > 0) sawLingering = true;
      if (view.available > 0) {
        sawAvailable = true;
        const e = view.enis.find((x) => x.status === 'available')!;
        expect(e.availableSince).toBeLessThanOrEqual(t);
      }
    }
    expect(sawLingering).toBe(true);
    expect(sawAvailable).toBe(true);
  });
});
