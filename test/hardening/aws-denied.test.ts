// Missing IAM permissions, end to end through the real SDK clients (nock on the wire), the sampler, the cache,
// /metrics, /-/ready and /admit. Glue denied: EC2 numbers stay exact, Glue-derived series disappear (unknown
// is not zero); the default policy (forecast) needs the tail, so /admit answers 503 naming the Glue error, while
// rolling-max on available still decides from IPs, saying that job data is missing. EC2 denied: no decision and
// no readiness, and both answers carry the AWS error.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { startExporter, type RunningExporter } from '../../src/server.js';
import {
  ec2ErrorXml,
  emptyGlue,
  enisPageXml,
  JSON_HEADERS,
  mockEc2,
  mockGlue,
  subnetsXml,
  XML_HEADERS,
  xmlOk,
  type EniFixture,
} from '../helpers/aws-wire.js';
import { parseExposition, select, value } from '../helpers/prom.js';
import { useSimCredentials } from './helpers.js';

// Own ports, so these interceptors never meet another file's.
const EC2_A = 'http://127.0.0.1:45231';
const GLUE_A = 'http://127.0.0.1:45232';
const EC2_B = 'http://127.0.0.1:45233';
const GLUE_B = 'http://127.0.0.1:45234';
const A = 'subnet-0aaa';
const GLUE_DESC = 'Attached to Glue using role: arn:aws:iam::111122223333:role/glue-etl';
const attached = { time: '2026-04-09T06:50:00Z', status: 'attached', deleteOnTermination: false };
const enis: EniFixture[] = [
  { id: 'eni-1', subnetId: A, status: 'in-use', description: GLUE_DESC, requesterManaged: true, ips: ['10.0.1.10'], attachment: attached },
  { id: 'eni-2', subnetId: A, status: 'in-use', description: GLUE_DESC, requesterManaged: true, ips: ['10.0.1.11'], attachment: attached },
  { id: 'eni-3', subnetId: A, status: 'available', description: GLUE_DESC, requesterManaged: true, ips: ['10.0.1.12'] },
  { id: 'eni-4', subnetId: A, status: 'in-use', description: 'ELB app/internal', ips: ['10.0.1.20', '10.0.1.21'], attachment: attached },
];
const DENIED_GLUE = 'User: arn:aws:sts::111122223333:assumed-role/exporter/x is not authorized to perform: glue:GetConnections';
const DENIED_EC2 =
  'You are not authorized to perform this operation. User: arn:aws:sts::111122223333:assumed-role/exporter/x is not authorized to perform: ec2:DescribeSubnets';

const dirs: string[] = [];
const started: RunningExporter[] = [];

async function exporterFor(ec2: string, glue: string, admission: Record<string, unknown> = {}): Promise<RunningExporter> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hardening-denied-'));
  dirs.push(dataDir);
  const config = parseConfig(
    {
      subnets: [{ id: A, name: 'critical' }],
      endpoints: { ec2, glue },
      region: 'us-east-1',
      dataDir,
      sample: { schedule: '0 0 1 1 *', maxAgeSeconds: 3600 },
      admission,
    },
    {},
  );
  const ex = await startExporter({
    config,
    listen: '127.0.0.1:0',
    logger: silentLogger,
    readerOptions: { retryStrategy: new ConfiguredRetryStrategy(2, 0) },
  });
  started.push(ex);
  return ex;
}

const get = async (ex: RunningExporter, path: string) => {
  const res = await fetch(`${ex.url}${path}`);
  return { status: res.status, headers: res.headers, text: await res.text() };
};

let glueDenied: RunningExporter;
let glueDeniedRollingMax: RunningExporter;
let ec2Denied: RunningExporter;
let ec2CallsB: { action: string }[];

beforeAll(async () => {
  useSimCredentials();
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith('127.0.0.1:') && ![EC2_A, GLUE_A, EC2_B, GLUE_B].some((u) => u.endsWith(host)));

  mockEc2(
    (call) =>
      call.action === 'DescribeSubnets'
        ? xmlOk(subnetsXml([{ id: A, cidr: '10.0.1.0/26', az: 'us-east-1a', available: 54 }]))
        : xmlOk(enisPageXml(enis)),
    EC2_A,
  );
  mockGlue(() => [400, { __type: 'AccessDeniedException', Message: DENIED_GLUE }, JSON_HEADERS], GLUE_A);

  ec2CallsB = mockEc2(() => [403, ec2ErrorXml('UnauthorizedOperation', DENIED_EC2), XML_HEADERS], EC2_B);
  mockGlue(emptyGlue, GLUE_B);

  glueDenied = await exporterFor(EC2_A, GLUE_A);
  glueDeniedRollingMax = await exporterFor(EC2_A, GLUE_A, { policy: 'rolling-max' });
  ec2Denied = await exporterFor(EC2_B, GLUE_B);
  expect(await glueDenied.firstSample).toBe(true);
  expect(await glueDeniedRollingMax.firstSample).toBe(true);
  expect(await ec2Denied.firstSample).toBe(false);
});

afterAll(async () => {
  for (const ex of started) await ex.close();
  nock.cleanAll();
  nock.enableNetConnect();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('Glue denied, EC2 allowed', () => {
  it('serves exact ENI and IP series, no Glue-derived series, and glue_data_known 0', async () => {
    const res = await get(glueDenied, '/metrics');
    expect(res.status).toBe(200);
    const { samples } = parseExposition(res.text);
    const a = { subnet_id: A, subnet: 'critical' };
    expect(value(samples, 'glue_eni_subnet_usable_ips', a)).toBe(59);
    expect(value(samples, 'glue_eni_subnet_used_ips', a)).toBe(5);
    expect(value(samples, 'glue_eni_subnet_free_ips', a)).toBe(54);
    expect(value(samples, 'glue_eni_subnet_utilization_ratio', a)).toBeCloseTo(5 / 59, 6);
    expect(value(samples, 'glue_eni_enis', { ...a, status: 'in-use', owner: 'glue' })).toBe(2);
    expect(value(samples, 'glue_eni_enis', { ...a, status: 'available', owner: 'glue' })).toBe(1);
    expect(value(samples, 'glue_eni_enis', { ...a, status: 'in-use', owner: 'other' })).toBe(1);
    // Unknown is not zero: the series are absent, not 0.
    for (const name of ['glue_eni_lingering_enis', 'glue_eni_job_runs_active', 'glue_eni_workers_active']) {
      expect(select(samples, name), name).toEqual([]);
    }
    expect(value(samples, 'glue_eni_glue_data_known')).toBe(0);
    expect(value(samples, 'glue_eni_sample_success')).toBe(1);
    expect(value(samples, 'glue_eni_sample_errors_total', { api: 'GetConnections' })).toBe(1);
  });

  it('/api/subnets says Glue is unknown and why, with null (not 0) Glue fields', async () => {
    const body = JSON.parse((await get(glueDenied, '/api/subnets')).text);
    expect(body.glue_known).toBe(false);
    expect(body.glue_error).toContain('GetConnections');
    expect(body.glue_error).toContain('AccessDeniedException');
    expect(body.subnets[0]).toMatchObject({ used_ips: 5, free_ips: 54, lingering: null, active_workers: null, active_runs: null });
  });

  it('/admit under the default (forecast) cannot compute the tail: 503 naming the Glue error', async () => {
    const res = await get(glueDenied, `/admit?subnet=${A}&workers=3&dag_run_id=denied-0`);
    expect(res.status).toBe(503);
    const body = JSON.parse(res.text);
    expect(body.error).toMatch(
      /^Glue data is unknown \(GetConnections: AccessDeniedException.*glue:GetConnections.*\): the tail \(available \+ lingering\) cannot be computed$/,
    );
    expect(body.admit).toBeUndefined();
  });

  it('/admit under rolling-max still decides from the IPs, and its reason says job data is missing and why', async () => {
    const res = await get(glueDeniedRollingMax, `/admit?subnet=${A}&workers=3&dag_run_id=denied-1`);
    expect(res.status).toBe(200);
    const body = JSON.parse(res.text);
    expect(body).toMatchObject({ admit: true, free: 54, reserved: 0, workers: 3, buffer: 10, subnet_id: A });
    expect(body.reason).toMatch(/^free 54 − reserved 0 ≥ workers 3 \+ buffer 10 /);
    expect(body.reason).toContain('Glue job data unavailable (GetConnections: AccessDeniedException');
    expect(body.reason).toContain('glue:GetConnections');

    // A wait says the same: the reservation above now counts.
    const wait = JSON.parse((await get(glueDeniedRollingMax, `/admit?subnet=critical&workers=42`)).text);
    expect(wait).toMatchObject({ admit: false, free: 54, reserved: 3, workers: 42 });
    expect(wait.reason).toContain('Glue job data unavailable (GetConnections: AccessDeniedException');
  });

  it('/admit by job name cannot resolve without Glue: 503 naming the cause', async () => {
    const res = await get(glueDenied, '/admit?job=customer-analytics-daily');
    expect(res.status).toBe(503);
    const body = JSON.parse(res.text);
    expect(body.error).toContain('AccessDeniedException');
    expect(body.field).toBe('job');
  });
});

describe('EC2 denied from the start', () => {
  it('is not ready, and says why', async () => {
    const res = await get(ec2Denied, '/-/ready');
    expect(res.status).toBe(503);
    const body = JSON.parse(res.text);
    expect(body.status).toBe('not ready');
    expect(body.reason).toContain('no successful sample yet');
    expect(body.reason).toContain('UnauthorizedOperation');
    expect(body.reason).toContain('DescribeSubnets');
    expect(body.age_seconds).toBeNull();
    // Not retried: a permission error does not heal by asking again.
    expect(ec2CallsB.filter((c) => c.action === 'DescribeSubnets')).toHaveLength(1);
  });

  it('/admit answers 503 with the same cause and a Retry-After, never a guess', async () => {
    for (const path of [`/admit?subnet=${A}&workers=1`, '/admit?subnet=critical&workers=1&dag_run_id=d']) {
      const res = await get(ec2Denied, path);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('60');
      const body = JSON.parse(res.text);
      expect(body.error).toContain('UnauthorizedOperation');
      expect(body.error).toContain('cannot decide');
      expect(body.snapshot_age_seconds).toBeNull();
    }
    const post = await fetch(`${ec2Denied.url}/admit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ subnet: A, workers: 1 }),
    });
    expect(post.status).toBe(503);
    expect(((await post.json()) as { error: string }).error).toContain('UnauthorizedOperation');
    // Nothing was recorded for an answer that was never given.
    expect(await ec2Denied.store.recentObservations(A, 10, Date.now())).toEqual([]);
  });

  it('/metrics counts the error and serves no subnet series', async () => {
    const { samples } = parseExposition((await get(ec2Denied, '/metrics')).text);
    expect(value(samples, 'glue_eni_sample_errors_total', { api: 'DescribeSubnets' })).toBe(1);
    expect(select(samples, 'glue_eni_subnet_used_ips')).toEqual([]);
    expect(value(samples, 'glue_eni_sample_success')).toBe(0);
    // Nothing is known about Glue either: 0, never 1.
    expect(value(samples, 'glue_eni_glue_data_known')).toBe(0);
  });
});
