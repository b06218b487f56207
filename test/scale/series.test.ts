// The exposition's size follows the subnets, never the ENIs: the simulator serves worlds of a few sizes, the
// exporter samples them through the real SDK clients, and /metrics is counted series by series.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { startExporter } from '../../src/server.js';
import { parseScenario, startSimulator } from '../../src/sim/index.js';
import { parseExposition } from '../helpers/prom.js';
import { useSimCredentials } from '../helpers/sim-env.js';

const subnetId = (i: number) => `subnet-0c${i.toString(16).padStart(4, '0')}`;
const dirs: string[] = [];

beforeAll(() => {
  useSimCredentials();
});

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** glue_eni_ series per metric after one sample of a world of `subnets` /22s holding `enis` ENIs and one job each. */
async function seriesOf(subnets: number, enis: number): Promise<{ total: number; byMetric: Record<string, number>; enisSeen: number }> {
  const ids = Array.from({ length: subnets }, (_, i) => subnetId(i));
  const sim = await startSimulator({
    speed: 0,
    scenario: parseScenario({
      start: '2026-04-06T06:00:00Z',
      seed: 3,
      subnets: ids.map((id, i) => ({ id, cidr: `10.1.${i * 4}.0/22`, availabilityZone: 'us-east-1a' })),
      connections: ids.map((id, i) => ({ name: `conn-${i}`, subnet: id })),
      jobs: ids.map((_, i) => ({ name: `job-${i}`, connection: `conn-${i}`, workers: 10, durationMinutes: { min: 30, max: 30 } })),
      lifecycle: { lingerInUseMinutes: { min: 60, max: 70 }, availableMinutes: { min: 30, max: 40 } },
      otherEnis: ids.map((id) => ({ subnet: id, count: enis / subnets })),
    }),
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'series-'));
  dirs.push(dataDir);
  const exporter = await startExporter({
    config: parseConfig(
      {
        region: 'us-east-1',
        endpoints: { ec2: sim.url, glue: sim.url },
        subnets: ids.map((id) => ({ id })),
        sample: { schedule: '0 0 1 1 *', maxAgeSeconds: 86_400 },
        dataDir,
      },
      {},
    ),
    listen: '127.0.0.1:0',
    logger: silentLogger,
  });
  try {
    expect(await exporter.firstSample).toBe(true);
    const text = await (await fetch(`${exporter.url}/metrics`)).text();
    const own = parseExposition(text).samples.filter((s) => s.name.startsWith('glue_eni_'));
    const byMetric: Record<string, number> = {};
    for (const s of own) byMetric[s.name] = (byMetric[s.name] ?? 0) + 1;
    const enisSeen = exporter.cache.current()!.subnets.reduce((n, s) => n + s.totalEnis, 0);
    return { total: own.length, byMetric, enisSeen };
  } finally {
    await exporter.close();
    await sim.close();
  }
}

describe('series count', () => {
  it('does not change with the ENI count and grows linearly with the subnets', async () => {
    const few = await seriesOf(3, 30);
    const many = await seriesOf(3, 1800); // two DescribeNetworkInterfaces pages
    expect(few.enisSeen).toBe(30);
    expect(many.enisSeen).toBe(1800);
    expect(many.byMetric).toEqual(few.byMetric);
    expect(many.total).toBe(few.total);

    const six = await seriesOf(6, 1800);
    const nine = await seriesOf(9, 1800);
    const perSubnet = (six.total - many.total) / 3;
    expect(perSubnet).toBeGreaterThan(10);
    expect(nine.total - six.total).toBe(3 * perSubnet);
    // Every per-subnet metric carries one series per subnet (four for ENIs by status and owner).
    expect(six.byMetric.glue_eni_subnet_free_ips).toBe(6);
    expect(six.byMetric.glue_eni_enis).toBe(24);
  }, 60_000);
});
