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
];

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
      for (const f of FIELDS.slice(2)) expect(typeof r[f], f).toBe('number');
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
      /^scenario\s+policy\s+runs\s+exhaustion failures\s+failure rate\s+held\s+held rate\s+median wait\s+max wait\s+gave up\s+peak util\s+tail IP-min$/,
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
    expect(run({ policies: ['none'], days: 1, blind: 'adhoc', json: false }).out.split('\n')[0]).toBe(
      '1 simulated days; sensor: poke every 60 s, give up after 600 s; samples every 60 s; adhoc launches bypass the gate',
    );
  });
});
