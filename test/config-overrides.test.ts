// An admission override whose key names no subnet is a typo. With discovery on it cannot be judged at load (a
// discovered subnet may carry the name), so the exporter judges it after each sample, through the real SDK clients
// against the simulator, and warns once per key: a discovered name is honoured, a typo is named.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseScenario } from '../src/sim/index.js';
import { captureLogger } from './helpers/log-capture.js';
import { type SimExporter, startSimExporter } from './helpers/sim-exporter.js';

const scenario = parseScenario({
  start: '2026-04-06T06:00:00Z',
  seed: 3,
  subnets: [
    { id: 'subnet-0a1', cidr: '10.0.0.0/26', availabilityZone: 'us-east-1a' },
    { id: 'subnet-0b1', cidr: '10.1.0.0/26', availabilityZone: 'us-east-1b' },
  ],
  connections: [{ name: 'glue-batch', subnet: 'subnet-0b1' }],
  lifecycle: { lingerInUseMinutes: { min: 0, max: 65 }, availableMinutes: { min: 30, max: 40 } },
});

const { logger, lines } = captureLogger('warn');
let fx: SimExporter;

beforeAll(async () => {
  fx = await startSimExporter({
    scenario,
    logger,
    config: {
      subnets: [{ id: 'subnet-0a1', name: 'critical' }],
      discover: { glueConnections: true },
      admission: { subnets: { critical: { minBuffer: 4 }, 'glue-batch': { minBuffer: 5 }, 'glue-bacth': { minBuffer: 6 } } },
    },
  });
  for (let i = 0; i < 2; i++) {
    fx.sim.clock.advance(60_000);
    expect(await fx.exporter.sampler.sampleOnce()).toBe(true);
  }
}, 60_000);

afterAll(() => fx?.close());

it('warns once, after discovery, about the override key that matches no watched subnet, and only about it', () => {
  const warnings = lines.filter((l) => l.msg === 'admission override matches no watched subnet; it applies to none');
  expect(warnings).toEqual([
    expect.objectContaining({
      level: 40,
      field: 'admission.subnets.glue-bacth',
      reason: 'no watched subnet has this id or name; did you mean glue-batch? (known: subnet-0a1, critical, subnet-0b1, glue-batch)',
    }),
  ]);
  expect(
    fx.exporter.cache
      .current()!
      .subnets.map((s) => s.name)
      .sort(),
  ).toEqual(['critical', 'glue-batch']);
});
