// A Glue connection's name must never steer /admit to another subnet. The simulator holds a small subnet and a
// large one; a connection to the large one is named like the small one's id, and another discovered connection
// takes a configured subnet's name. Asked by id or by configured name, /admit and /api must answer for the
// subnet the key belongs to, through the real SDK clients and the exporter's own sampler.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { startExporter, type RunningExporter } from '../src/server.js';
import { parseScenario, startSimulator, type RunningSimulator } from '../src/sim/index.js';
import { captureLogger } from './helpers/log-capture.js';
import { useSimCredentials } from './helpers/sim-env.js';

const scenario = parseScenario({
  start: '2026-04-06T06:00:00Z',
  seed: 7,
  subnets: [
    { id: 'subnet-0a1', cidr: '10.0.0.0/26', availabilityZone: 'us-east-1a' },
    { id: 'subnet-0b1', cidr: '10.1.0.0/16', availabilityZone: 'us-east-1b' },
    { id: 'subnet-0c1', cidr: '10.2.0.0/28', availabilityZone: 'us-east-1a' },
    { id: 'subnet-0d1', cidr: '10.3.0.0/24', availabilityZone: 'us-east-1b' },
  ],
  connections: [
    // Named like another subnet's id.
    { name: 'subnet-0a1', subnet: 'subnet-0b1' },
    // Named like a configured subnet's configured name.
    { name: 'critical', subnet: 'subnet-0d1' },
  ],
  lifecycle: { lingerInUseMinutes: { min: 0, max: 65 }, availableMinutes: { min: 30, max: 40 } },
  // subnet-0a1: 59 usable, 2 held: room for 57. subnet-0c1: 11 usable, 1 held.
  otherEnis: [
    { subnet: 'subnet-0a1', count: 2 },
    { subnet: 'subnet-0c1', count: 1 },
  ],
});

const dataDir = mkdtempSync(join(tmpdir(), 'subnet-naming-'));
const { logger, lines: logLines } = captureLogger('warn');
let sim: RunningSimulator;
let exporter: RunningExporter;

const get = async (path: string) => {
  const res = await fetch(`${exporter.url}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

beforeAll(async () => {
  useSimCredentials();
  sim = await startSimulator({ scenario, speed: 0 });
  const config = parseConfig(
    {
      region: scenario.region,
      endpoints: { ec2: sim.url, glue: sim.url },
      subnets: [{ id: 'subnet-0a1' }, { id: 'subnet-0c1', name: 'critical' }],
      discover: { glueConnections: true },
      sample: { schedule: '0 0 1 1 *', maxAgeSeconds: 3600 },
      dataDir,
    },
    {},
  );
  exporter = await startExporter({ config, listen: '127.0.0.1:0', logger, clock: sim.clock });
  expect(await exporter.firstSample).toBe(true);
  // More samples: the warning about each refused name must not repeat.
  for (let i = 0; i < 3; i++) {
    sim.clock.advance(60_000);
    expect(await exporter.sampler.sampleOnce()).toBe(true);
  }
}, 60_000);

afterAll(async () => {
  await exporter?.close();
  await sim?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('subnet keys resolve to their own subnet', () => {
  it('watches the configured and the discovered subnets', () => {
    expect(
      exporter.cache
        .current()!
        .subnets.map((s) => s.subnetId)
        .sort(),
    ).toEqual(['subnet-0a1', 'subnet-0b1', 'subnet-0c1', 'subnet-0d1']);
  });

  it('/admit by id answers for that subnet, not for a subnet whose connection carries the id as its name', async () => {
    const { status, body } = await get('/admit?subnet=subnet-0a1&workers=58&dag_run_id=naming-1');
    expect(status).toBe(200);
    expect(body.subnet_id).toBe('subnet-0a1');
    expect(body.free).toBe(57);
    expect(body.admit).toBe(false);
  });

  it('/admit by configured name answers for the configured subnet, not for a discovered namesake', async () => {
    const { status, body } = await get('/admit?subnet=critical&workers=5&dag_run_id=naming-2');
    expect(status).toBe(200);
    expect(body.subnet_id).toBe('subnet-0c1');
    expect(body.free).toBe(10);
    expect(body.admit).toBe(false);
  });

  it('/api labels the subnets whose discovered names were refused by their ids', async () => {
    const { body } = await get('/api/subnets');
    const names = Object.fromEntries((body.subnets as { subnet_id: string; subnet: string }[]).map((s) => [s.subnet_id, s.subnet]));
    expect(names).toEqual({ 'subnet-0a1': 'subnet-0a1', 'subnet-0b1': 'subnet-0b1', 'subnet-0c1': 'critical', 'subnet-0d1': 'subnet-0d1' });
  });

  it('/api ENI lists by id and by name answer for the right subnet', async () => {
    expect((await get('/api/subnets/subnet-0a1/enis')).body.subnet_id).toBe('subnet-0a1');
    expect((await get('/api/subnets/critical/enis')).body.subnet_id).toBe('subnet-0c1');
    expect((await get('/api/subnets/subnet-0b1/enis')).body.subnet_id).toBe('subnet-0b1');
  });

  it('the metrics label each subnet once, by its own id when its discovered name was refused', async () => {
    const text = await (await fetch(`${exporter.url}/metrics`)).text();
    const labels = [...text.matchAll(/^glue_eni_subnet_usable_ips\{([^}]*)\}/gm)].map((m) => m[1]).sort();
    expect(labels).toEqual([
      'subnet_id="subnet-0a1",subnet="subnet-0a1",account_id="123456789012",region="us-east-1"',
      'subnet_id="subnet-0b1",subnet="subnet-0b1",account_id="123456789012",region="us-east-1"',
      'subnet_id="subnet-0c1",subnet="critical",account_id="123456789012",region="us-east-1"',
      'subnet_id="subnet-0d1",subnet="subnet-0d1",account_id="123456789012",region="us-east-1"',
    ]);
  });

  it('warns once per refused name, naming the subnet and why', () => {
    const warnings = logLines.filter((l) => typeof l.msg === 'string' && /discovered subnet name refused/.test(l.msg));
    expect(warnings.map((w) => [w.name, w.subnet_id]).sort()).toEqual([
      ['critical', 'subnet-0d1'],
      ['subnet-0a1', 'subnet-0b1'],
    ]);
    expect(String(warnings.find((w) => w.name === 'subnet-0a1')!.reason)).toMatch(/looks like a subnet id/);
    expect(String(warnings.find((w) => w.name === 'critical')!.reason)).toMatch(/configured name of subnet-0c1/);
  });
});
