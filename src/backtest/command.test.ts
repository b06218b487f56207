import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runSimulateCommand, type SimulateOptions } from './command.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const split = here('../../scenarios/seed-split.yml');
const calm = here('../../scenarios/backtest/calm-24.yml');

function run(over: Partial<SimulateOptions>) {
  let out = '';
  let err = '';
  const code = runSimulateCommand({
    scenarios: [split],
    days: 3,
    policies: ['none'],
    json: true,
    out: { write: (s: string) => (out += s) },
    err: { write: (s: string) => (err += s) },
    ...over,
  });
  return { code, out, err };
}

const FIELDS = [
  'scenario',
  'policy',
  'sensor',
  'runs',
  'exhaustion_failures',
  'failure_rate',
  'held',
  'held_rate',
  'median_wait_seconds',
  'max_wait_seconds',
  'gave_up',
  'peak_utilization',
  'tail_ip_minutes',
  'missed_runs',
  'missed_rate',
  'p95_wait_seconds',
  'total_wait_hours',
  'eta_error_p90_seconds',
  'failed_attempts',
  'eta_error_all_p90_seconds',
  'eta_error_informed_p90_seconds',
  'eta_error_informed_all_p90_seconds',
];
const NUMBERS = FIELDS.slice(3).filter((f) => !f.startsWith('eta_error_'));

describe('runSimulateCommand', () => {
  it('--json prints one object with a row per scenario and policy, in that order, with the contract fields', () => {
    const { code, out, err } = run({ scenarios: [split, calm], policies: ['none,static', 'rolling-max'] });
    expect(code).toBe(0);
    expect(err).toBe('');
    const parsed = JSON.parse(out) as { results: Record<string, unknown>[] };
    expect(Object.keys(parsed)).toEqual(['results']);
    expect(parsed.results.map((r) => [r.scenario, r.policy])).toEqual([
      [split, 'none'],
      [split, 'static'],
      [split, 'rolling-max'],
      [calm, 'none'],
      [calm, 'static'],
      [calm, 'rolling-max'],
    ]);
    for (const r of parsed.results) {
      expect(Object.keys(r)).toEqual(FIELDS);
      for (const f of NUMBERS) expect(typeof r[f], f).toBe('number');
      expect(r.sensor).toBe(r.policy === 'none' ? null : 'report');
      expect(r.eta_error_p90_seconds).toBeNull();
      expect(r.eta_error_all_p90_seconds).toBeNull();
      expect(r.eta_error_informed_p90_seconds).toBeNull();
      expect(r.eta_error_informed_all_p90_seconds).toBeNull();
      expect(r.missed_runs).toBe((r.exhaustion_failures as number) + (r.gave_up as number));
      expect(r.missed_rate).toBeCloseTo((r.missed_runs as number) / (r.runs as number), 3);
      expect(r.runs as number).toBeGreaterThan(0);
      expect(r.failure_rate).toBeCloseTo((r.exhaustion_failures as number) / (r.runs as number), 3);
      expect(r.held_rate).toBeCloseTo((r.held as number) / (r.runs as number), 3);
    }
  });

  it('prints the same JSON twice for the same seed', () => {
    const a = run({ policies: ['none,rolling-max,forecast'], days: 5 });
    const b = run({ policies: ['none,rolling-max,forecast'], days: 5 });
    expect(a.code).toBe(0);
    expect(b.out).toBe(a.out);
  });

  it('without --json prints an aligned table', () => {
    const { code, out } = run({ json: false, policies: ['none,rolling-max'] });
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[1]).toMatch(
      /^scenario\s+policy\s+sensor\s+runs\s+missed\s+missed rate\s+exhaustion failures\s+failed attempts\s+held\s+gave up\s+median wait\s+p95 wait\s+max wait\s+total wait\s+ETA p90 error\s+ETA p90 error, every answer\s+informed ETA p90 error\s+informed, every answer\s+peak util\s+tail IP-min$/,
    );
    expect(lines).toHaveLength(5);
    // Every row ends where the header ends: the columns line up.
    for (const l of lines.slice(2)) expect(l.length).toBe(lines[1].length);
    expect(lines[3]).toContain(' none ');
    expect(lines[4]).toContain(' rolling-max ');
  });

  it('rejects an invalid scenario file through the scenario loader, naming the file and the field', () => {
    const bad = here('testdata/bad-workers.yml');
    const r = run({ scenarios: [split, bad] });
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toContain(`--scenario: ${bad}: jobs[0].workers: expected an integer from 1 to 1000`);
    const lc = run({ scenarios: [here('testdata/bad-lifecycle.yml')] });
    expect(lc.code).toBe(1);
    expect(lc.err).toMatch(/lifecycle\.availableMinutes\.max: expected max >= min/);
    const missing = run({ scenarios: [here('testdata/no-such-file.yml')] });
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^--scenario: .*no-such-file\.yml: cannot read/);
  });

  it('rejects bad --policy and --days values with a message naming the flag', () => {
    for (const policies of [['rolling-min'], ['none,,bogus'], [''], []]) {
      const r = run({ policies });
      expect(r.code, JSON.stringify(policies)).toBe(2);
      expect(r.err).toMatch(/^--policy: /);
      expect(r.out).toBe('');
    }
    expect(run({ policies: ['bogus'] }).err).toContain('unknown policy "bogus"');
    for (const days of ['0', '-3', 'ten', '1e3x', '', 'NaN', 0, -1, Number.NaN, 100000]) {
      const r = run({ days });
      expect(r.code, String(days)).toBe(2);
      expect(r.err).toMatch(/^--days: /);
    }
    const none = run({ scenarios: [] });
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/^--scenario: /);
    const sensor = run({ sensors: 'report,psychic' });
    expect(sensor.code).toBe(2);
    expect(sensor.err).toBe('--sensor: unknown sensor "psychic" (expected one or more of report, eta, comma-separated)\n');
    const by = run({ by: 'day' });
    expect(by.code).toBe(2);
    expect(by.err).toBe('--by: expected subnet or job, got "day"\n');
    const blind = run({ blind: 'adhoc,manual' });
    expect(blind.code).toBe(2);
    expect(blind.err).toBe('--blind: unknown launch source "manual" (expected adhoc, schedule or both, comma-separated)\n');
  });

  it('--blind launches those sources past the gate under every policy, and says so', () => {
    // seed-split's backfills in C fail blind; gated, they wait. Launched blind under rolling-max, they fail again.
    const gated = JSON.parse(run({ policies: ['rolling-max'], days: 7 }).out).results[0];
    const r = run({ policies: ['rolling-max'], days: 7, blind: 'adhoc' });
    expect(r.code).toBe(0);
    const blind = JSON.parse(r.out).results[0];
    expect(gated.exhaustion_failures).toBe(0);
    expect(blind.exhaustion_failures).toBeGreaterThan(0);
    expect(blind.held).toBeLessThan(gated.held);
    expect(run({ policies: ['none'], days: 1, blind: 'adhoc', json: false }).out.split('\n')[0]).toMatch(
      /^1 simulated days; samples every 60 s; report sensor: .*; adhoc launches bypass the gate$/,
    );
  });

  it('--sensor runs each gated policy once per sensor, the other launchers once', () => {
    const r = run({ policies: ['none,blind-retry,rolling-max,oracle'], sensors: ['report', 'eta'], days: 2 });
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out).results as Record<string, unknown>[];
    expect(rows.map((x) => [x.policy, x.sensor])).toEqual([
      ['none', null],
      ['blind-retry', null],
      ['rolling-max', 'report'],
      ['rolling-max', 'eta'],
      ['oracle', null],
    ]);
  });

  it('--by subnet and --by job add one row per subnet or job after each total, and they add up to it', () => {
    for (const [by, key, count] of [
      ['subnet', 'subnet', 3],
      ['job', 'job', 5],
    ] as const) {
      const r = run({ policies: ['none,rolling-max'], days: 7, by });
      expect(r.code).toBe(0);
      const rows = JSON.parse(r.out).results as Record<string, unknown>[];
      expect(rows).toHaveLength(2 * (1 + count));
      for (const head of [0, 1 + count]) {
        const total = rows[head];
        const parts = rows.slice(head + 1, head + 1 + count);
        expect(total[key]).toBeUndefined();
        expect(parts.every((p) => typeof p[key] === 'string' && p.policy === total.policy)).toBe(true);
        for (const f of ['runs', 'missed_runs', 'exhaustion_failures', 'held', 'gave_up', 'failed_attempts']) {
          expect(
            parts.reduce((n, p) => n + (p[f] as number), 0),
            `${by} ${f}`,
          ).toBe(total[f]);
        }
      }
      expect(rows.slice(1, 1 + count).map((p) => p[key])).toEqual(
        by === 'subnet'
          ? ['subnet-0a1', 'subnet-0b2', 'subnet-0c3']
          : ['reporting', 'aggregations', 'customer-analytics-daily', 'product-metrics-daily', 'backfill'],
      );
      const table = run({ policies: ['none'], days: 1, by, json: false }).out.split('\n');
      expect(table[1]).toMatch(new RegExp(`^scenario\\s+policy\\s+sensor\\s+${by}\\s+runs`));
      expect(table[3]).toContain('(all)');
    }
  });
});
