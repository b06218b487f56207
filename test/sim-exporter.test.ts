// The exporter against the simulator through the real SDK clients, stepped on virtual time: one sample per
// virtual minute, so what the exporter measures can be checked against the scenario's own numbers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoConfig } from '../src/demo.js';
import { silentLogger } from '../src/log.js';
import { startExporter, type RunningExporter } from '../src/server.js';
import { loadScenarioFile, startSimulator, type RunningSimulator } from '../src/sim/index.js';
import { parseExposition, select, value } from './helpers/prom.js';
import { useSimCredentials } from './helpers/sim-env.js';

const scenario = loadScenarioFile('scenarios/seed-split.yml');
const dataDir = mkdtempSync(join(tmpdir(), 'sim-exporter-'));
let sim: RunningSimulator;
let exporter: RunningExporter;
const seen = { inUse: 0, available: 0, lingering: 0, activeWorkers: 0 };

beforeAll(async () => {
  useSimCredentials();
  // Speed 0: virtual time moves only when the test says so.
  sim = await startSimulator({ scenario, speed: 0, startAt: scenario.demoStart ?? scenario.start });
  const config = demoConfig(scenario, sim.url, dataDir, '0 0 1 1 *');
  config.sample.maxAgeSeconds = 3600;
  exporter = await startExporter({ config, listen: '127.0.0.1:0', logger: silentLogger, clock: sim.clock });
  expect(await exporter.firstSample).toBe(true);
  // Four virtual hours from 06:40: the 07:00 runs start, end, linger, go available and are deleted.
  for (let minute = 0; minute < 240; minute++) {
    sim.clock.advance(60_000);
    expect(await exporter.sampler.sampleOnce()).toBe(true);
    for (const s of exporter.cache.current()!.subnets) {
      seen.inUse = Math.max(seen.inUse, s.inUse);
      seen.available = Math.max(seen.available, s.available);
      seen.lingering = Math.max(seen.lingering, s.lingering ?? 0);
      seen.activeWorkers = Math.max(seen.activeWorkers, s.activeWorkers ?? 0);
    }
  }
}, 120_000);

afterAll(async () => {
  await exporter?.close();
  await sim?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('exporter against the simulator', () => {
  it('sees in-use, lingering and available ENIs and the active workers', () => {
    expect(seen.inUse).toBeGreaterThan(0);
    expect(seen.available).toBeGreaterThan(0);
    expect(seen.lingering).toBeGreaterThan(0);
    expect(seen.activeWorkers).toBeGreaterThanOrEqual(10);
  });

  it('watches every scenario subnet under its scenario name, with exact IP accounting', async () => {
    const { samples } = parseExposition(await (await fetch(`${exporter.url}/metrics`)).text());
    for (const s of scenario.subnets) {
      const labels = { subnet_id: s.id, subnet: s.name ?? s.id };
      const used = value(samples, 'glue_eni_subnet_used_ips', labels);
      const free = sim.world.freeAddresses(s.id);
      // The world has moved on by at most the time since the last sample (none: speed 0).
      expect(value(samples, 'glue_eni_subnet_free_ips', labels)).toBe(free);
      expect(value(samples, 'glue_eni_subnet_usable_ips', labels) - used).toBe(free);
    }
  });

  it("fills the available-duration histogram with durations inside the scenario's range", async () => {
    const { samples } = parseExposition(await (await fetch(`${exporter.url}/metrics`)).text());
    const { min, max } = scenario.lifecycle.availableMinutes;
    let total = 0;
    for (const s of scenario.subnets) {
      const labels = { subnet_id: s.id };
      const count = select(samples, 'glue_eni_available_duration_seconds_count', labels).reduce((n, x) => n + x.value, 0);
      if (count === 0) continue;
      total += count;
      // Sampled once a virtual minute: each duration is exact to one minute.
      const sum = value(samples, 'glue_eni_available_duration_seconds_sum', labels);
      expect(sum / count).toBeGreaterThanOrEqual((min - 1) * 60);
      expect(sum / count).toBeLessThanOrEqual((max + 1) * 60);
      const below = select(samples, 'glue_eni_available_duration_seconds_bucket', { ...labels, le: '1500' })[0].value;
      const within = select(samples, 'glue_eni_available_duration_seconds_bucket', { ...labels, le: '2700' })[0].value;
      expect(below).toBe(0);
      expect(within).toBe(count);
    }
    expect(total).toBeGreaterThan(10);
  });

  it('fills the linger histogram within the scenario range', async () => {
    const { samples } = parseExposition(await (await fetch(`${exporter.url}/metrics`)).text());
    const { max } = scenario.lifecycle.lingerInUseMinutes;
    const counts = select(samples, 'glue_eni_linger_duration_seconds_count');
    const total = counts.reduce((n, x) => n + x.value, 0);
    expect(total).toBeGreaterThan(0);
    const sums = select(samples, 'glue_eni_linger_duration_seconds_sum').reduce((n, x) => n + x.value, 0);
    expect(sums / total).toBeLessThanOrEqual((max + 1) * 60);
  });

  it('predicts release from the very durations the histograms count, and exports the forecast per horizon', async () => {
    const { samples } = parseExposition(await (await fetch(`${exporter.url}/metrics`)).text());
    let learned = 0;
    for (const s of scenario.subnets) {
      const labels = { subnet_id: s.id };
      const sum = (name: string) => select(samples, name, labels).reduce((n, x) => n + x.value, 0);
      const got = exporter.admission.durationsLearned(s.id);
      expect(got).toEqual({
        linger: sum('glue_eni_linger_duration_seconds_count'),
        available: sum('glue_eni_available_duration_seconds_count'),
      });
      learned += got.linger + got.available;
      const at = (horizon: string) => value(samples, 'glue_eni_predicted_free_ips', { ...labels, horizon });
      expect(at('15m')).toBeLessThanOrEqual(at('30m'));
      expect(at('30m')).toBeLessThanOrEqual(at('60m'));
      expect(at('60m')).toBeLessThanOrEqual(value(samples, 'glue_eni_subnet_usable_ips', labels));
    }
    expect(learned).toBeGreaterThan(10);
  });
});
