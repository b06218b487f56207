// The exporter as a whole: real SDK clients (through nock) → sampler → cache → /metrics and /api over a
// real ephemeral port. Exposition text is parsed and asserted by name, labels and value.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { silentLogger } from '../src/log.js';
import { startExporter, type RunningExporter } from '../src/server.js';
import {
  EC2_URL,
  GLUE_URL,
  JSON_HEADERS,
  XML_HEADERS,
  ec2ErrorXml,
  enisPageXml,
  epoch,
  glueOk,
  mockEc2,
  mockGlue,
  subnetsXml,
  xmlOk,
  type EniFixture,
} from './helpers/aws-wire.js';
import { parseExposition, select, value } from './helpers/prom.js';
import { useSimCredentials } from './helpers/sim-env.js';

const GLUE_DESC = 'Attached to Glue using role: arn:aws:iam::111122223333:role/glue-etl';
const A = 'subnet-0aaa';
const B = 'subnet-0bbb';
const NOW = Date.parse('2026-04-09T07:03:00Z');
const clock = { now: () => NOW };

const attached = (time: string) => ({ time, status: 'attached', deleteOnTermination: false });
const enis: EniFixture[] = [
  // the running job's two workers
  {
    id: 'eni-w1',
    subnetId: A,
    status: 'in-use',
    description: GLUE_DESC,
    requesterManaged: true,
    ips: ['10.0.1.10'],
    attachment: attached('2026-04-09T07:00:20Z'),
  },
  {
    id: 'eni-w2',
    subnetId: A,
    status: 'in-use',
    description: GLUE_DESC,
    requesterManaged: true,
    ips: ['10.0.1.11'],
    attachment: attached('2026-04-09T07:00:21Z'),
  },
  // a ghost from the 05:00 run
  {
    id: 'eni-g1',
    subnetId: A,
    status: 'in-use',
    description: GLUE_DESC,
    requesterManaged: true,
    ips: ['10.0.1.12'],
    attachment: attached('2026-04-09T05:00:30Z'),
  },
  // the cleanup tail
  { id: 'eni-a1', subnetId: A, status: 'available', description: GLUE_DESC, requesterManaged: true, ips: ['10.0.1.13'] },
  // someone else's, with a secondary address
  {
    id: 'eni-o1',
    subnetId: B,
    status: 'in-use',
    description: 'ELB app/internal',
    ips: ['10.0.2.5', '10.0.2.6'],
    attachment: attached('2026-04-01T00:00:00Z'),
  },
];

let ec2Mode: 'ok' | 'throttled' = 'ok';
const dataDir = mkdtempSync(join(tmpdir(), 'exporter-'));
let exporter: RunningExporter;

const get = async (path: string) => {
  const res = await fetch(`${exporter.url}${path}`);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
};
const scrape = async () => parseExposition((await get('/metrics')).text);

beforeAll(async () => {
  useSimCredentials();
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith('127.0.0.1:') && !host.endsWith(':45201') && !host.endsWith(':45202'));
  mockEc2((call) => {
    if (ec2Mode === 'throttled' && call.action === 'DescribeNetworkInterfaces') {
      return [503, ec2ErrorXml('RequestLimitExceeded', 'Request limit exceeded.'), XML_HEADERS];
    }
    if (call.action === 'DescribeSubnets') {
      return xmlOk(
        subnetsXml([
          { id: A, cidr: '10.0.1.0/26', az: 'us-east-1a', available: 55 },
          { id: B, cidr: '10.0.2.0/27', az: 'us-east-1b', available: 25 },
        ]),
      );
    }
    return xmlOk(enisPageXml(enis));
  });
  mockGlue((call) => {
    if (call.target === 'GetConnections') {
      return glueOk({
        ConnectionList: [
          { Name: 'glue-critical', PhysicalConnectionRequirements: { SubnetId: A } },
          { Name: 'glue-batch', PhysicalConnectionRequirements: { SubnetId: B } },
        ],
      });
    }
    if (call.target === 'GetJobs') {
      return glueOk({
        Jobs: [
          { Name: 'customer-analytics-daily', Connections: { Connections: ['glue-critical'] }, NumberOfWorkers: 2 },
          { Name: 'reporting', Connections: { Connections: ['glue-batch'] }, NumberOfWorkers: 10 },
        ],
      });
    }
    if (call.target === 'GetJobRuns' && call.body.JobName === 'customer-analytics-daily') {
      return glueOk({
        JobRuns: [
          { Id: 'jr_1', JobName: 'customer-analytics-daily', JobRunState: 'RUNNING', StartedOn: epoch('2026-04-09T07:00:00Z'), NumberOfWorkers: 2 },
        ],
      });
    }
    if (call.target === 'GetJobRuns') {
      return glueOk({
        JobRuns: [
          {
            Id: 'jr_f',
            JobName: 'reporting',
            JobRunState: 'FAILED',
            StartedOn: epoch('2026-04-09T07:01:00Z'),
            CompletedOn: epoch('2026-04-09T07:01:00Z'),
            ErrorMessage: 'The specified subnet does not have enough free addresses to satisfy the request.',
          },
        ],
      });
    }
    return [400, { __type: 'InvalidInputException', Message: call.target }, JSON_HEADERS];
  });

  const config = parseConfig(
    {
      subnets: [{ id: A, name: 'critical' }, { id: B }],
      endpoints: { ec2: EC2_URL, glue: GLUE_URL },
      region: 'us-east-1',
      dataDir,
      sample: { schedule: '0 0 1 1 *', maxAgeSeconds: 30 },
    },
    {},
  );
  exporter = await startExporter({
    config,
    listen: '127.0.0.1:0',
    logger: silentLogger,
    clock,
    readerOptions: { retryStrategy: new ConfiguredRetryStrategy(2, 0) },
  });
  expect(await exporter.firstSample).toBe(true);
});

afterAll(async () => {
  await exporter?.close();
  nock.cleanAll();
  nock.enableNetConnect();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('exporter over a real port', () => {
  it('serves the subnet metrics from the cache', async () => {
    const res = await get('/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toContain('text/plain');
    const { samples, help } = parseExposition(res.text);
    const a = { subnet_id: A, subnet: 'critical' };
    // An unnamed subnet takes the name of the Glue connection that points at it.
    const b = { subnet_id: B, subnet: 'glue-batch' };
    expect(value(samples, 'glue_eni_subnet_info', { ...a, cidr: '10.0.1.0/26', availability_zone: 'us-east-1a' })).toBe(1);
    expect(value(samples, 'glue_eni_subnet_usable_ips', a)).toBe(59);
    expect(value(samples, 'glue_eni_subnet_used_ips', a)).toBe(4);
    expect(value(samples, 'glue_eni_subnet_free_ips', a)).toBe(55);
    expect(value(samples, 'glue_eni_subnet_utilization_ratio', a)).toBeCloseTo(4 / 59, 6);
    expect(value(samples, 'glue_eni_subnet_usable_ips', b)).toBe(27);
    expect(value(samples, 'glue_eni_subnet_used_ips', b)).toBe(2);
    expect(value(samples, 'glue_eni_enis', { ...a, status: 'in-use', owner: 'glue' })).toBe(3);
    expect(value(samples, 'glue_eni_enis', { ...a, status: 'available', owner: 'glue' })).toBe(1);
    expect(value(samples, 'glue_eni_enis', { ...b, status: 'in-use', owner: 'other' })).toBe(1);
    expect(value(samples, 'glue_eni_lingering_enis', a)).toBe(1);
    expect(value(samples, 'glue_eni_job_runs_active', a)).toBe(1);
    expect(value(samples, 'glue_eni_workers_active', a)).toBe(2);
    expect(value(samples, 'glue_eni_job_workers', { ...a, glue_job: 'customer-analytics-daily', connection: 'glue-critical' })).toBe(2);
    expect(value(samples, 'glue_eni_job_workers', { ...b, glue_job: 'reporting', connection: 'glue-batch' })).toBe(10);
    expect(value(samples, 'glue_eni_exhaustion_failures_total', { ...b, glue_job: 'reporting' })).toBe(1);
    expect(value(samples, 'glue_eni_oldest_available_age_seconds', a)).toBe(0);
    expect(value(samples, 'glue_eni_oldest_lingering_age_seconds', a)).toBe(0);
    expect(select(samples, 'glue_eni_available_duration_seconds_bucket').length).toBe(0);
    expect(help.get('glue_eni_subnet_used_ips')).toMatch(/cached/);
    // No series carries an ENI id.
    expect(samples.some((s) => Object.values(s.labels).some((v) => v.startsWith('eni-')))).toBe(false);
  });

  it('reports its own health and AWS requests by API', async () => {
    const samples = (await scrape()).samples;
    expect(value(samples, 'glue_eni_sample_success')).toBe(1);
    // The exporter's own health is wall-clock time, whatever clock the data runs on.
    expect(Math.abs(value(samples, 'glue_eni_last_sample_timestamp_seconds') - Date.now() / 1000)).toBeLessThan(60);
    expect(value(samples, 'glue_eni_sample_duration_seconds')).toBeGreaterThan(0);
    expect(value(samples, 'glue_eni_aws_requests_total', { api: 'DescribeNetworkInterfaces' })).toBe(1);
    expect(value(samples, 'glue_eni_aws_requests_total', { api: 'DescribeSubnets' })).toBe(1);
    expect(value(samples, 'glue_eni_aws_requests_total', { api: 'GetJobRuns' })).toBe(2);
    expect(select(samples, 'process_cpu_seconds_total').length).toBe(1);
  });

  it('serves the cache as JSON and the ENI list of a subnet by id or name', async () => {
    const subnets = JSON.parse((await get('/api/subnets')).text);
    expect(subnets.fresh).toBe(true);
    expect(subnets.taken_at).toBe('2026-04-09T07:03:00.000Z');
    expect(subnets.subnets.map((s: { subnet: string }) => s.subnet)).toEqual(['critical', 'glue-batch']);
    expect(subnets.subnets[0]).toMatchObject({ usable_ips: 59, used_ips: 4, free_ips: 55, lingering: 1, active_workers: 2 });

    const byName = JSON.parse((await get('/api/subnets/critical/enis')).text);
    const byId = JSON.parse((await get(`/api/subnets/${A}/enis`)).text);
    expect(byName.enis).toEqual(byId.enis);
    const ghost = byId.enis.find((e: { eni_id: string }) => e.eni_id === 'eni-g1');
    expect(ghost).toMatchObject({
      status: 'in-use',
      owner: 'glue',
      addresses: 1,
      lingering: true,
      attach_time: '2026-04-09T05:00:30.000Z',
      description: GLUE_DESC,
    });
    const tail = byId.enis.find((e: { eni_id: string }) => e.eni_id === 'eni-a1');
    expect(tail).toMatchObject({ status: 'available', available_since: '2026-04-09T07:03:00.000Z', lingering: false });
  });

  it('answers health, readiness, the landing page and 404s', async () => {
    expect((await get('/-/healthy')).status).toBe(200);
    const ready = await get('/-/ready');
    expect(ready.status).toBe(200);
    const landing = await get('/');
    expect(landing.type).toContain('text/html');
    expect(landing.text).toContain('critical');
    expect(landing.text).toContain('/metrics');
    const unknownSubnet = await get('/api/subnets/subnet-0dead/enis');
    expect(unknownSubnet.status).toBe(404);
    expect(JSON.parse(unknownSubnet.text).error).toContain('subnet-0dead');
    const unknownRoute = await get('/nope');
    expect(unknownRoute.status).toBe(404);
    expect(JSON.parse(unknownRoute.text).error).toContain('/nope');
    const wrongMethod = await fetch(`${exporter.url}/metrics`, { method: 'POST' });
    expect(wrongMethod.status).toBe(405);
  });

  it('keeps the last good snapshot when a page keeps failing, and counts the error', async () => {
    ec2Mode = 'throttled';
    try {
      expect(await exporter.sampler.sampleOnce()).toBe(false);
    } finally {
      ec2Mode = 'ok';
    }
    const samples = (await scrape()).samples;
    expect(value(samples, 'glue_eni_sample_success')).toBe(0);
    expect(value(samples, 'glue_eni_sample_errors_total', { api: 'DescribeNetworkInterfaces' })).toBe(1);
    expect(value(samples, 'glue_eni_subnet_used_ips', { subnet_id: A })).toBe(4);
    expect(value(samples, 'glue_eni_aws_requests_total', { api: 'DescribeNetworkInterfaces' })).toBe(3);
    expect(exporter.cache.current()?.subnets.find((s) => s.subnetId === A)?.totalEnis).toBe(4);
  });
});
