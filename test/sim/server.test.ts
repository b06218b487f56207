import { execFile, execFileSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { DescribeNetworkInterfacesCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetJobsCommand, GlueClient } from '@aws-sdk/client-glue';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FaultInjector } from '../../src/sim/faults.js';
import { parseListen, runSimCommand, startSimulator, World, type RunningSimulator } from '../../src/sim/index.js';
import { loadScenarioFile, parseScenario } from '../../src/sim/scenario.js';

const MIN = 60_000;
const hasAwsCli = (() => {
  try {
    execFileSync('aws', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

const scenario = parseScenario({
  start: '2026-04-06T06:59:30Z',
  seed: 3,
  subnets: [{ id: 'subnet-0a1', cidr: '10.0.0.0/26', availabilityZone: 'us-east-1a' }],
  connections: [{ name: 'glue-a', subnet: 'subnet-0a1' }],
  jobs: [{ name: 'seven', connection: 'glue-a', workers: 4, schedule: '0 7 * * *', durationMinutes: { min: 30, max: 40 } }],
  lifecycle: { lingerInUseMinutes: { min: 0, max: 65 }, availableMinutes: { min: 30, max: 40 } },
  otherEnis: [{ subnet: 'subnet-0a1', count: 1 }],
});

describe('fault injection through the real SDK clients', () => {
  let sim: RunningSimulator;
  let ec2: EC2Client;
  let glue: GlueClient;

  beforeAll(async () => {
    sim = await startSimulator({ scenario, speed: 0 });
    ec2 = new EC2Client({ endpoint: sim.url, region: 'us-east-1', credentials });
    glue = new GlueClient({ endpoint: sim.url, region: 'us-east-1', credentials });
  });
  afterAll(async () => {
    ec2?.destroy();
    glue?.destroy();
    await sim?.close();
  });

  it('EC2 throttling is RequestLimitExceeded (503), and the SDK retry gets through', async () => {
    sim.setFaults({ failNext: { count: 2, kind: 'throttle' } });
    const out = await ec2.send(new DescribeSubnetsCommand({}));
    expect(out.Subnets).toHaveLength(1);
    expect(out.$metadata.attempts).toBe(3);

    sim.setFaults({ failNext: { count: 5, kind: 'throttle' } });
    await expect(ec2.send(new DescribeNetworkInterfacesCommand({}))).rejects.toMatchObject({
      name: 'RequestLimitExceeded',
      $metadata: { httpStatusCode: 503, attempts: 3 },
    });
    sim.setFaults({ failNext: { count: 0, kind: 'throttle' } });
  });

  it('Glue throttling is ThrottlingException (400), retried by the SDK', async () => {
    sim.setFaults({ failNext: { count: 1, kind: 'throttle' } });
    const out = await glue.send(new GetJobsCommand({}));
    expect(out.Jobs!.map((j) => j.Name)).toEqual(['seven']);
    expect(out.$metadata.attempts).toBe(2);

    const once = new GlueClient({ endpoint: sim.url, region: 'us-east-1', credentials, maxAttempts: 1 });
    sim.setFaults({ failNext: { count: 1, kind: 'throttle' } });
    await expect(once.send(new GetJobsCommand({}))).rejects.toMatchObject({ name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
    once.destroy();
  });

  it('server errors are 500 InternalError / InternalServiceException', async () => {
    const ec2Once = new EC2Client({ endpoint: sim.url, region: 'us-east-1', credentials, maxAttempts: 1 });
    const glueOnce = new GlueClient({ endpoint: sim.url, region: 'us-east-1', credentials, maxAttempts: 1 });
    sim.setFaults({ failNext: { count: 2, kind: 'server' } });
    await expect(ec2Once.send(new DescribeSubnetsCommand({}))).rejects.toMatchObject({ name: 'InternalError', $metadata: { httpStatusCode: 500 } });
    await expect(glueOnce.send(new GetJobsCommand({}))).rejects.toMatchObject({
      name: 'InternalServiceException',
      $metadata: { httpStatusCode: 500 },
    });
    ec2Once.destroy();
    glueOnce.destroy();
  });

  it('faults can be scoped to actions, and latency delays answers', async () => {
    sim.setFaults({ failNext: { count: 1, kind: 'throttle' }, actions: ['GetJobRuns'] });
    const out = await ec2.send(new DescribeSubnetsCommand({}));
    expect(out.$metadata.attempts).toBe(1);
    sim.setFaults({ failNext: { count: 0, kind: 'throttle' }, actions: undefined, latencyMs: 150 });
    const t0 = Date.now();
    await ec2.send(new DescribeSubnetsCommand({}));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(sim.setFaults({ latencyMs: 0 })).toEqual({ throttleRate: 0, serverErrorRate: 0, latencyMs: 0 });
  });

  it('the control endpoints show state and switch faults', async () => {
    const state = (await (await fetch(`${sim.url}/_sim/state`)).json()) as { subnets: { id: string; free: number }[]; now: string };
    expect(state.subnets[0]).toMatchObject({ id: 'subnet-0a1', free: sim.world.freeAddresses('subnet-0a1') });
    const res = await fetch(`${sim.url}/_sim/faults`, { method: 'POST', body: JSON.stringify({ throttleRate: 2 }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/^throttleRate: /);
    const set = await fetch(`${sim.url}/_sim/faults`, { method: 'POST', body: JSON.stringify({ latencyMs: 0, throttleRate: 0 }) });
    expect(set.status).toBe(200);
  });

  it('a request without Action gets the EC2 error shape', async () => {
    const res = await fetch(sim.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Version=2016-11-15',
    });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).toContain('<Response><Errors><Error><Code>MissingAction</Code>');
    expect(text).toContain('<RequestID>');
  });
});

describe('FaultInjector', () => {
  it('draws rates from the seed: same seed, same faults', () => {
    const draw = (seed: number) => {
      const f = new FaultInjector(seed, { throttleRate: 0.3, serverErrorRate: 0.2 });
      return Array.from({ length: 200 }, () => f.decide('DescribeNetworkInterfaces') ?? 'ok');
    };
    const a = draw(5);
    expect(draw(5)).toEqual(a);
    expect(draw(6)).not.toEqual(a);
    const throttles = a.filter((x) => x === 'throttle').length;
    const servers = a.filter((x) => x === 'server').length;
    expect(throttles).toBeGreaterThan(35);
    expect(throttles).toBeLessThan(85);
    expect(servers).toBeGreaterThan(20);
    expect(servers).toBeLessThan(60);
  });
});

describe('startSimulator and the sim command', () => {
  it('advances the world in the background so runs start on time with no requests', async () => {
    const sim = await startSimulator({ scenario, speed: 600, tickMs: 20 }); // 07:00 is 50 ms of real time away
    try {
      await vi.waitFor(() => expect(sim.world.jobRuns('seven')).not.toHaveLength(0), { timeout: 5_000, interval: 20 });
      const [run] = sim.world.jobRuns('seven');
      expect(run.StartedOn).toBe(Date.parse('2026-04-06T07:00:00Z'));
    } finally {
      await sim.close();
    }
  });

  it('startAt runs the world up to the given time first; it may not precede the scenario', async () => {
    const sim = await startSimulator({ scenario, speed: 0, startAt: '2026-04-06T07:10:00Z' });
    try {
      expect(sim.clock.now()).toBe(Date.parse('2026-04-06T07:10:00Z'));
      expect(sim.world.jobRuns('seven')).toHaveLength(1);
      expect(sim.world.networkInterfaces()).toHaveLength(5);
    } finally {
      await sim.close();
    }
    await expect(startSimulator({ scenario, startAt: '2026-04-06T06:00:00Z' })).rejects.toThrow(/^startAt: /);
    await expect(startSimulator({ scenario, listen: 'localhost:99999' })).rejects.toThrow(/^listen: /);
  });

  it('with autoLaunch off, due launches wait for the driver', async () => {
    const sim = await startSimulator({ scenario, speed: 0, autoLaunch: false });
    try {
      sim.clock.advance(MIN);
      const res = await fetch(`${sim.url}/_sim/state`);
      const state = (await res.json()) as { dueLaunches: { jobName: string }[] };
      expect(state.dueLaunches.map((d) => d.jobName)).toEqual(['seven']);
      expect(sim.world.jobRuns()).toHaveLength(0);
    } finally {
      await sim.close();
    }
  });

  it('runSimCommand prints the URL and the environment to use, serves, and stops on signal', async () => {
    const out = new PassThrough();
    let printed = '';
    out.on('data', (c: Buffer) => (printed += c.toString()));
    const abort = new AbortController();
    const scenarioPath = fileURLToPath(new URL('../../scenarios/seed-shared.yml', import.meta.url));
    const done = runSimCommand({
      scenario: scenarioPath,
      listen: '127.0.0.1:0',
      speed: 60,
      start: '2026-04-06T06:55:00Z',
      out,
      signal: abort.signal,
    });
    await vi.waitFor(() => expect(printed).toContain('AWS_ENDPOINT_URL='), { timeout: 5_000, interval: 20 });
    const url = /AWS_ENDPOINT_URL=(http:\/\/127\.0\.0\.1:\d+)/.exec(printed)?.[1];
    expect(url).toBeDefined();
    expect(printed).toContain('AWS_REGION=us-east-1');
    expect(printed).toContain('AWS_ACCESS_KEY_ID=test');
    const ec2 = new EC2Client({ endpoint: url, region: 'us-east-1', credentials });
    const subnets = await ec2.send(new DescribeSubnetsCommand({}));
    expect(subnets.Subnets!.map((s) => s.SubnetId)).toEqual(['subnet-0a1']);
    ec2.destroy();
    abort.abort();
    await done;
    await expect(fetch(url!)).rejects.toThrow();
  });

  // The AWS CLI (botocore, another XML/JSON parser than the JS SDK) reads the same answers. Async exec: the
  // simulator runs in this process and must keep answering.
  it.skipIf(!hasAwsCli)('the AWS CLI reads ENIs and job runs from it', async () => {
    const sim = await startSimulator({
      scenario: fileURLToPath(new URL('../../scenarios/seed-shared.yml', import.meta.url)),
      speed: 0,
      startAt: '2026-04-08T07:03:00Z',
    });
    try {
      const env = {
        ...process.env,
        AWS_ENDPOINT_URL: sim.url,
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_PAGER: '',
      };
      const aws = async (...args: string[]) =>
        JSON.parse((await promisify(execFile)('aws', [...args, '--output', 'json'], { env, timeout: 20_000 })).stdout) as unknown;
      const statuses = (await aws(
        'ec2',
        'describe-network-interfaces',
        '--filters',
        'Name=subnet-id,Values=subnet-0a1',
        '--query',
        'NetworkInterfaces[*].Status',
      )) as string[];
      const enis = sim.world.networkInterfaces();
      expect(statuses.filter((x) => x === 'in-use')).toHaveLength(enis.filter((e) => e.Status === 'in-use').length);
      expect(statuses.filter((x) => x === 'available')).toHaveLength(enis.filter((e) => e.Status === 'available').length);
      const runs = (await aws(
        'glue',
        'get-job-runs',
        '--job-name',
        'product-metrics-daily',
        '--max-results',
        '3',
        '--query',
        'JobRuns[*].[Id, JobRunState, ErrorMessage]',
      )) as string[][];
      expect(runs).toEqual(
        sim.world
          .jobRuns('product-metrics-daily')
          .slice(0, 3)
          .map((r) => [r.Id, r.JobRunState, r.ErrorMessage ?? null]),
      );
    } finally {
      await sim.close();
    }
  });

  it('parseListen reads host:port and port', () => {
    expect(parseListen('127.0.0.1:4566')).toEqual({ host: '127.0.0.1', port: 4566 });
    expect(parseListen('0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(() => parseListen('nope')).toThrow(/^listen: /);
  });
});

describe('demo-hot scenario', () => {
  it('goes above 80 % utilization within a few virtual minutes and stays there for hours', () => {
    const s = loadScenarioFile(fileURLToPath(new URL('../../scenarios/demo-hot.yml', import.meta.url)));
    const w = new World(s);
    const hot = s.subnets[0].id;
    const util = () => {
      const sub = w.subnet(hot)!;
      return (sub.usable - sub.AvailableIpAddressCount) / sub.usable;
    };
    // At speed 60, one real minute is an hour: above 80 % well within it...
    const from = s.demoStart ?? s.start; // where the demo opens its clock
    w.advanceTo(from);
    expect(util()).toBeLessThan(0.8);
    let firstAbove: number | undefined;
    for (let t = from; t <= from + 60 * MIN; t += 10_000) {
      w.advanceTo(t);
      if (util() > 0.8) {
        firstAbove = t;
        break;
      }
    }
    expect(firstAbove).toBeDefined();
    expect(firstAbove! - from).toBeLessThan(15 * MIN);
    // ...and above it for at least five real minutes (five virtual hours), as the ENIs report it too.
    for (let t = firstAbove!; t <= firstAbove! + 5 * 60 * MIN; t += MIN) {
      w.advanceTo(t);
      expect(util()).toBeGreaterThan(0.8);
      const held = w
        .networkInterfaces()
        .filter((e) => e.SubnetId === hot)
        .reduce((n, e) => n + e.PrivateIpAddresses.length, 0);
      expect(held / w.subnet(hot)!.usable).toBeGreaterThan(0.8);
    }
  });
});
