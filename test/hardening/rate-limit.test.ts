// The /admit rate limit (admission.rateLimit.requestsPerMinute, off by default) on real exporters over the
// simulator: per client, ahead of the token check, JSON 429 with Retry-After, other routes never limited,
// and a reload turns it on and off.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { startExporter, type RunningExporter } from '../../src/server.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { parseExposition, select } from '../helpers/prom.js';
import { pool, rawRequest, SCENARIO, useSimCredentials } from './helpers.js';

const TOKEN = 'rate-limit-token-5b7e0c2a';
let sim: RunningSimulator;
const dirs: string[] = [];
const exporters: RunningExporter[] = [];

function config(admission: Record<string, unknown>, dataDir: string) {
  return parseConfig(
    {
      subnets: [{ id: 'subnet-0a1', name: 'critical' }],
      endpoints: { ec2: sim.url, glue: sim.url },
      region: 'us-east-1',
      dataDir,
      sample: { schedule: '0 0 1 1 *', maxAgeSeconds: 86_400 },
      admission,
    },
    {},
  );
}

async function exporter(admission: Record<string, unknown>): Promise<RunningExporter> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hardening-rl-'));
  dirs.push(dataDir);
  const ex = await startExporter({ config: config(admission, dataDir), listen: '127.0.0.1:0', logger: silentLogger });
  exporters.push(ex);
  expect(await ex.firstSample).toBe(true);
  return ex;
}

const admit = (ex: RunningExporter, token?: string, localAddress?: string) =>
  rawRequest(ex.url, {
    method: 'GET',
    path: '/admit?subnet=critical&workers=1',
    headers: token ? { authorization: `Bearer ${token}` } : {},
    ...(localAddress ? { localAddress } : {}),
  });

beforeAll(async () => {
  useSimCredentials();
  sim = await startSimulator({ scenario: SCENARIO, startAt: '2026-04-06T07:05:00Z' });
});

afterAll(async () => {
  for (const ex of exporters) await ex.close();
  await sim?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('/admit rate limit', () => {
  it('set to 5: the 6th request of a client is a JSON 429 with Retry-After; tokens are guessed against it too; /metrics is never limited', async () => {
    const ex = await exporter({ token: TOKEN, rateLimit: { requestsPerMinute: 5 } });
    const statuses: number[] = [];
    // Wrong tokens count: guessing the token is limited like anything else.
    for (let i = 0; i < 3; i++) statuses.push((await admit(ex, `wrong-token-${i}-xxxxxxxx`)).status);
    for (let i = 0; i < 2; i++) statuses.push((await admit(ex, TOKEN)).status);
    expect(statuses).toEqual([401, 401, 401, 200, 200]);

    const sixth = await admit(ex, TOKEN);
    expect(sixth.status).toBe(429);
    expect(sixth.headers['content-type']).toContain('application/json');
    const body = JSON.parse(sixth.text);
    expect(body.error).toBe('rate limit: at most 5 /admit requests per minute per client');
    const retryAfter = Number(sixth.headers['retry-after']);
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, String(sixth.headers['retry-after'])).toBe(true);
    // POST and DELETE share the budget.
    expect(
      (
        await rawRequest(ex.url, {
          method: 'POST',
          path: '/admit',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: '{"subnet":"critical","workers":1}',
        })
      ).status,
    ).toBe(429);
    expect(
      (
        await rawRequest(ex.url, {
          method: 'DELETE',
          path: '/admit/subnet-0a1.00000000-0000-0000-0000-000000000000',
          headers: { authorization: `Bearer ${TOKEN}` },
        })
      ).status,
    ).toBe(429);

    // Another client (another loopback source address) has its own budget.
    expect((await admit(ex, TOKEN, '127.0.0.2')).status).toBe(200);

    // Not /metrics, not health, not the API.
    for (let i = 0; i < 20; i++) {
      for (const path of ['/metrics', '/-/healthy', '/-/ready', '/api/subnets']) {
        expect((await rawRequest(ex.url, { method: 'GET', path })).status, path).toBe(200);
      }
    }
    // The refusals are counted as errors in the decision metric: 3 wrong tokens + 3 over the limit.
    const { samples } = parseExposition((await rawRequest(ex.url, { method: 'GET', path: '/metrics' })).text);
    const errors = select(samples, 'glue_eni_admission_decisions_total', { decision: 'error' }).reduce((n, s) => n + s.value, 0);
    expect(errors).toBe(6);
  });

  it('unset: 50 quick requests all pass; a reload turns the limit on and off again', async () => {
    const ex = await exporter({});
    const answers = await pool(
      Array.from({ length: 50 }, (_, i) => i),
      10,
      () => admit(ex),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
    expect(answers.every((a) => a.headers.ratelimit === undefined)).toBe(true);

    ex.reload(config({ rateLimit: { requestsPerMinute: 3 } }, ex.config.dataDir));
    const limited = [];
    for (let i = 0; i < 4; i++) limited.push((await admit(ex)).status);
    expect(limited).toEqual([200, 200, 200, 429]);

    ex.reload(config({}, ex.config.dataDir));
    const free = await pool(
      Array.from({ length: 20 }, (_, i) => i),
      10,
      () => admit(ex),
    );
    expect(free.map((a) => a.status)).toEqual(Array(20).fill(200));
  });
});
