// The landing page in a real browser: Debian's headless Chromium, driven by playwright-core, loads `/` from an
// exporter sampling the simulator through the real SDK clients. The figures the page shows are read from its DOM
// and checked against /api; then the simulator throttles every call and the page must say the data is stale, why.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Locator } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { loadScenarioFile } from '../../src/sim/index.js';
import { repoPath } from '../helpers/paths.js';
import { type SimExporter, startSimExporter } from '../helpers/sim-exporter.js';
import { waitFor } from '../helpers/wait.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(`landing-browser: skipped: ${CHROMIUM} does not exist (scripts/install-monitoring-deps.sh installs it: apt-get install -y chromium)`);
}

const RUNBOOK = 'https://runbooks.example.com/glue-eni';
const GRAFANA = 'https://grafana.example.com/d/glue-eni?var-subnet=all&from=now-6h';
// Real seconds: long enough that a loaded machine does not make the fresh page stale, short enough to wait out.
const MAX_AGE_SECONDS = 8;
const OUT = repoPath('test-output');

/** A style property as the browser computed it (the tests compile without the DOM library: reach it by name). */
function computed(l: Locator, prop: 'color' | 'backgroundColor'): Promise<string> {
  type View = { getComputedStyle(e: unknown): Record<string, string> };
  return l.evaluate((el, p) => (globalThis as unknown as View).getComputedStyle(el)[p]!, prop);
}

interface ApiSubnet {
  subnet_id: string;
  subnet: string;
  utilization_ratio: number;
  free_ips: number;
  used_ips: number;
  usable_ips: number;
  in_use: number;
  available: number;
  lingering: number | null;
  admission: { headroom_workers: number; buffer: number; queue_length: number } | null;
}

describe.skipIf(!haveChromium)('landing page in headless Chromium', () => {
  let fx: SimExporter;
  let browser: Browser;
  let samples = 0;

  beforeAll(async () => {
    fx = await startSimExporter({
      scenario: loadScenarioFile(repoPath('scenarios', 'demo-hot.yml')),
      logger: silentLogger,
      config: {
        subnets: [
          { id: 'subnet-0d1', name: 'hot' },
          { id: 'subnet-0d2', name: 'calm' },
        ],
        sample: { schedule: '0 0 1 1 *', maxAgeSeconds: MAX_AGE_SECONDS },
        links: { runbookUrl: RUNBOOK, grafanaUrl: GRAFANA },
      },
    });
    samples = 1;
    // Five hours of virtual time (03:00 to 08:00), one sample every 10 minutes: the hot subnet is above 80 % from 07:02.
    for (let t = 0; t < 30; t++) {
      fx.sim.clock.advance(10 * 60_000);
      expect(await fx.exporter.sampler.sampleOnce()).toBe(true);
      samples++;
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
      timeout: 30_000,
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await fx?.close();
  });

  it('shows each subnet with the figures /api gives, coloured at the 80 % line, with its chart and links', async () => {
    // A fresh sample just before the page: the staleness limit runs on real time, whatever the setup took.
    expect(await fx.exporter.sampler.sampleOnce()).toBe(true);
    samples++;
    const page = await browser.newPage({ viewport: { width: 1600, height: 700 } });
    await page.goto(`${fx.exporter.url}/`);
    const api = (await (await fetch(`${fx.exporter.url}/api/subnets`)).json()) as { subnets: ApiSubnet[] };
    expect(api.subnets.length).toBe(2);
    let sawHot = false;
    for (const listed of api.subnets) {
      const one = (await (await fetch(`${fx.exporter.url}/api/subnets/${listed.subnet}`)).json()) as ApiSubnet;
      const row = page.locator(`tr[data-subnet-id="${listed.subnet_id}"]`);
      expect(Number(await row.getAttribute('data-utilization'))).toBe(one.utilization_ratio);
      expect(Number(await row.getAttribute('data-free'))).toBe(one.free_ips);
      expect(Number(await row.getAttribute('data-used'))).toBe(one.used_ips);
      expect(Number(await row.getAttribute('data-usable'))).toBe(one.usable_ips);
      expect(Number(await row.getAttribute('data-headroom'))).toBe(one.admission!.headroom_workers);
      expect(Number(await row.getAttribute('data-queue-length'))).toBe(one.admission!.queue_length);
      expect(await row.locator('.pct').textContent()).toBe(`${(100 * one.utilization_ratio).toFixed(0)} %`);
      const level = one.utilization_ratio >= 0.95 ? 'critical' : one.utilization_ratio > 0.8 ? 'warning' : 'ok';
      expect(await row.getAttribute('data-level')).toBe(level);
      // The colour is the browser's computed style, not just a class name.
      const colour = await computed(row.locator('.pct'), 'color');
      if (level === 'ok') expect(colour).toBe('rgb(34, 34, 34)');
      else expect(colour).not.toBe('rgb(34, 34, 34)');
      if (level !== 'ok') sawHot = true;
      // One point per sample, drawn as in-use, available and lingering lines.
      const chart = row.locator('svg.chart');
      expect(Number(await chart.getAttribute('data-points'))).toBe(samples);
      expect(await chart.locator('polyline[data-series="in-use"]').count()).toBe(1);
    }
    expect(sawHot).toBe(true);
    expect(await page.locator('a[data-link="runbook"]').getAttribute('href')).toBe(RUNBOOK);
    expect(await page.locator('a[data-link="grafana"]').getAttribute('href')).toBe(GRAFANA);
    expect(await page.locator('a[href="api/subnets"]').textContent()).toBe('/api');
    expect(await page.locator('meta[http-equiv="refresh"]').getAttribute('content')).toMatch(/^\d+$/);
    expect(await page.locator('[role="alert"]').count()).toBe(0);

    mkdirSync(OUT, { recursive: true });
    const shot = join(OUT, 'landing.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`landing page screenshot: ${shot}`);
    expect(existsSync(shot)).toBe(true);
    await page.close();
  }, 60_000);

  it("says the data is stale, with /-/ready's reason, when the simulator throttles every call", async () => {
    fx.sim.setFaults({ throttleRate: 1 });
    fx.sim.clock.advance(60_000);
    expect(await fx.exporter.sampler.sampleOnce()).toBe(false);
    // Real seconds: freshness is judged on the process's monotonic clock.
    const ready = await waitFor(
      '/-/ready to fail',
      async () => {
        const res = await fetch(`${fx.exporter.url}/-/ready`);
        return res.status === 503 ? ((await res.json()) as { reason: string }) : undefined;
      },
      40_000,
    );
    const cause = ready.reason.slice(ready.reason.indexOf('; last sample failed: '));
    expect(cause).toMatch(/^; last sample failed: \w+: .*(throttl|limit exceeded)/i);

    const page = await browser.newPage({ viewport: { width: 1600, height: 700 } });
    await page.goto(`${fx.exporter.url}/`);
    const banner = page.locator('[role="alert"]');
    expect(await banner.getAttribute('data-state')).toBe('stale');
    const text = (await banner.textContent()) ?? '';
    expect(text).toMatch(new RegExp(`^Stale: last successful sample is \\d+ s old \\(max ${MAX_AGE_SECONDS} s\\)`));
    expect(text).toContain(cause.replace(/\.$/, ''));
    const colour = await computed(banner, 'backgroundColor');
    expect(colour).not.toBe('rgba(0, 0, 0, 0)');
    // The figures of the last good sample stay, under the banner.
    expect(await page.locator('tr[data-subnet-id]').count()).toBe(2);
    const shot = join(OUT, 'landing-stale.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`stale landing page screenshot: ${shot}`);
    await page.close();
    fx.sim.setFaults({ throttleRate: 0 });
  }, 90_000);
});
