import { describe, expect, it } from 'vitest';
import { snapshotOf, subnetView } from '../../test/helpers/world.js';
import { historyChart, type LandingInput, landingPage, utilizationLevel } from './landing.js';

const T = Date.parse('2026-04-08T07:00:00Z');
const input = (over: Partial<LandingInput> = {}): LandingInput => ({
  snap: snapshotOf([subnetView({ subnetId: 'subnet-0a', name: 'critical', inUse: 50, lingering: 0 })], { takenAt: T }),
  ageSeconds: 3,
  version: '1.2.3',
  now: T,
  staleReason: undefined,
  failure: undefined,
  admission: [],
  history: () => [],
  historyWindowMs: 6 * 3_600_000,
  links: {},
  ...over,
});

describe('landing page', () => {
  it('colours at the 80 % line (warning above it) and critical from 95 %', () => {
    expect([0.5, 0.8, 0.81, 0.949, 0.95, 1].map(utilizationLevel)).toEqual(['ok', 'ok', 'warning', 'warning', 'critical', 'critical']);
    // 50 of 59 usable: 85 %.
    expect(landingPage(input())).toContain('data-utilization="0.8475" data-level="warning"');
  });

  it('escapes what AWS and the config say: a discovered name or an error message is text, never markup', () => {
    const html = landingPage(
      input({
        snap: snapshotOf([subnetView({ subnetId: 'subnet-0a', name: '<img src=x onerror=alert(1)>' })], { takenAt: T, glueKnown: false }),
        failure: { at: T, api: 'GetJobRuns', message: 'denied <b>"x"</b>' },
        links: { runbook: 'https://r.example.com/?a=1&b="2"' },
      }),
    );
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('href="https://r.example.com/?a=1&amp;b=&quot;2&quot;"');
  });

  it('says stale with the reason; failing when fresh but the last sample failed; nothing when all is well', () => {
    const stale = landingPage(input({ staleReason: 'last successful sample is 400 s old (max 180 s); last sample failed: DescribeSubnets: boom.' }));
    expect(stale).toContain(
      'data-state="stale">Stale: last successful sample is 400 s old (max 180 s); last sample failed: DescribeSubnets: boom. The',
    );
    const failing = landingPage(input({ failure: { at: T, api: 'GetJobRuns', message: 'throttled' } }));
    expect(failing).toContain('data-state="failing">Sampling failing: GetJobRuns: throttled.');
    expect(landingPage(input())).not.toContain('role="alert"');
    expect(landingPage(input({ snap: undefined }))).toContain('No sample yet.');
  });

  it('counts only today’s exhaustion failures (UTC day of now)', () => {
    const s = subnetView({ subnetId: 'subnet-0a', inUse: 1, lingering: 0 });
    s.exhaustionFailures = [
      { job: 'j', runId: 'r1', at: T - 8 * 3_600_000 },
      { job: 'j', runId: 'r2', at: T - 1000 },
      { job: 'j', runId: 'r3', at: T - 60_000 },
    ];
    expect(landingPage(input({ snap: snapshotOf([s], { takenAt: T }) }))).toContain('data-exhaustion-failures-today="2"');
  });

  it('draws one polyline per series over the window, or says it is still collecting', () => {
    expect(historyChart([], 3_600_000, T)).toContain('collecting history');
    const pts = [0, 1, 2].map((i) => ({ at: T - (2 - i) * 600_000, inUse: i, available: 2, used: 3, ...(i === 1 ? {} : { lingering: 1 }) }));
    const svg = historyChart(pts, 3_600_000, T);
    expect(svg).toContain('data-points="3"');
    expect(svg.match(/<polyline/g)).toHaveLength(3);
    // The window's start at the left edge, the newest point at the right: 20 min of a 60 min window is the last third.
    expect(svg).toMatch(/points="213\.3,[\d.]+ 266\.7,[\d.]+ 320\.0,[\d.]+" data-series="in-use"/);
    // The lingering line skips the sample where it was unknown.
    expect(svg).toMatch(/points="213\.3,[\d.]+ 320\.0,[\d.]+" data-series="lingering"/);
  });
});
