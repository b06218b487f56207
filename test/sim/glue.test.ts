import {
  BatchStopJobRunCommand,
  GetConnectionCommand,
  GetConnectionsCommand,
  GetJobCommand,
  GetJobRunCommand,
  GetJobRunsCommand,
  GetJobsCommand,
  GlueClient,
  StartJobRunCommand,
  paginateGetJobRuns,
} from '@aws-sdk/client-glue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXHAUSTION_MESSAGE, startSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { parseScenario } from '../../src/sim/scenario.js';

const MIN = 60_000;
const START = Date.parse('2026-04-06T00:00:00Z');

const scenario = parseScenario({
  start: '2026-04-06T00:00:00Z',
  seed: 11,
  subnets: [
    { id: 'subnet-0a1', cidr: '10.0.0.0/26', availabilityZone: 'us-east-1a' },
    { id: 'subnet-0b2', cidr: '10.0.0.64/28', availabilityZone: 'us-east-1b' },
  ],
  connections: [
    { name: 'glue-a', subnet: 'subnet-0a1', securityGroups: ['sg-0abc'] },
    { name: 'glue-b', subnet: 'subnet-0b2' },
  ],
  jobs: [
    { name: 'every-10', connection: 'glue-a', workers: 2, workerType: 'G.2X', schedule: '*/10 * * * *', durationMinutes: { min: 3, max: 5 } },
    { name: 'tight', connection: 'glue-b', workers: 6, durationMinutes: { min: 60, max: 60 } },
  ],
  lifecycle: { lingerInUseMinutes: { min: 1, max: 2 }, availableMinutes: { min: 1, max: 2 } },
});

let sim: RunningSimulator;
let glue: GlueClient;

beforeAll(async () => {
  sim = await startSimulator({ scenario, speed: 0 });
  glue = new GlueClient({ endpoint: sim.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  sim.clock.advanceTo(START + 65 * MIN); // seven runs of every-10 (00:00 ... 01:00)
});

afterAll(async () => {
  glue?.destroy();
  await sim?.close();
});

describe('Glue reads', () => {
  it('GetConnections and GetConnection give the subnet of each connection', async () => {
    const out = await glue.send(new GetConnectionsCommand({}));
    expect(out.ConnectionList!.map((c) => [c.Name, c.PhysicalConnectionRequirements?.SubnetId])).toEqual([
      ['glue-a', 'subnet-0a1'],
      ['glue-b', 'subnet-0b2'],
    ]);
    expect(out.ConnectionList![0].PhysicalConnectionRequirements?.SecurityGroupIdList).toEqual(['sg-0abc']);
    expect(out.ConnectionList![0].CreationTime).toBeInstanceOf(Date);
    const one = await glue.send(new GetConnectionCommand({ Name: 'glue-b' }));
    expect(one.Connection?.PhysicalConnectionRequirements?.AvailabilityZone).toBe('us-east-1b');
    await expect(glue.send(new GetConnectionCommand({ Name: 'nope' }))).rejects.toMatchObject({
      name: 'EntityNotFoundException',
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('GetJobs pages; GetJob answers or says EntityNotFoundException', async () => {
    const p1 = await glue.send(new GetJobsCommand({ MaxResults: 1 }));
    expect(p1.Jobs!.map((j) => j.Name)).toEqual(['every-10']);
    expect(p1.NextToken).toBeTruthy();
    const p2 = await glue.send(new GetJobsCommand({ MaxResults: 1, NextToken: p1.NextToken }));
    expect(p2.Jobs!.map((j) => j.Name)).toEqual(['tight']);
    expect(p2.NextToken).toBeUndefined();
    const job = await glue.send(new GetJobCommand({ JobName: 'every-10' }));
    expect(job.Job).toMatchObject({ Name: 'every-10', NumberOfWorkers: 2, WorkerType: 'G.2X', Connections: { Connections: ['glue-a'] } });
    await expect(glue.send(new GetJobCommand({ JobName: 'nope' }))).rejects.toMatchObject({ name: 'EntityNotFoundException' });
  });

  it('GetJobRuns lists newest first with epoch timestamps, and pages with NextToken/MaxResults', async () => {
    const all = await glue.send(new GetJobRunsCommand({ JobName: 'every-10' }));
    expect(all.JobRuns).toHaveLength(7);
    const started = all.JobRuns!.map((r) => r.StartedOn!.getTime());
    expect(started).toEqual([...started].sort((a, b) => b - a));
    expect(started[0]).toBe(START + 60 * MIN);
    const done = all.JobRuns![1];
    expect(done.JobRunState).toBe('SUCCEEDED');
    expect(done.CompletedOn).toBeInstanceOf(Date);
    expect(done.ExecutionTime).toBe(Math.round((done.CompletedOn!.getTime() - done.StartedOn!.getTime()) / 1000));
    expect(done.NumberOfWorkers).toBe(2);
    expect(done.Id).toMatch(/^jr_[0-9a-f]{64}$/);

    const pages: string[][] = [];
    for await (const page of paginateGetJobRuns({ client: glue, pageSize: 3 }, { JobName: 'every-10' })) {
      pages.push(page.JobRuns!.map((r) => r.Id!));
    }
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual(all.JobRuns!.map((r) => r.Id));
    await expect(glue.send(new GetJobRunsCommand({ JobName: 'every-10', MaxResults: 201 }))).rejects.toMatchObject({ name: 'InvalidInputException' });
  });
});

describe('StartJobRun, GetJobRun, BatchStopJobRun', () => {
  it('a full subnet fails the run with the real message and creates no ENI; the response still has a JobRunId', async () => {
    const first = await glue.send(new StartJobRunCommand({ JobName: 'tight' }));
    sim.clock.advance(MIN);
    const ok = await glue.send(new GetJobRunCommand({ JobName: 'tight', RunId: first.JobRunId! }));
    expect(ok.JobRun?.JobRunState).toBe('RUNNING');
    const enisInB = sim.world.networkInterfaces().filter((e) => e.SubnetId === 'subnet-0b2').length;
    expect(enisInB).toBe(6);
    const free = sim.world.freeAddresses('subnet-0b2');
    expect(free).toBe(5);

    const second = await glue.send(new StartJobRunCommand({ JobName: 'tight' }));
    expect(second.JobRunId).toMatch(/^jr_/);
    const failed = await glue.send(new GetJobRunCommand({ JobName: 'tight', RunId: second.JobRunId! }));
    expect(failed.JobRun?.JobRunState).toBe('FAILED');
    expect(failed.JobRun?.ErrorMessage).toBe('The specified subnet does not have enough free addresses to satisfy the request.');
    expect(failed.JobRun?.ErrorMessage).toBe(EXHAUSTION_MESSAGE);
    sim.clock.advance(MIN);
    expect(sim.world.eniTruth().filter((t) => t.jobRunId === second.JobRunId)).toHaveLength(0);
    expect(sim.world.freeAddresses('subnet-0b2')).toBe(free);
    expect(sim.world.networkInterfaces().filter((e) => e.SubnetId === 'subnet-0b2')).toHaveLength(enisInB);

    // Fewer workers fit.
    const small = await glue.send(new StartJobRunCommand({ JobName: 'tight', NumberOfWorkers: 5 }));
    const smallRun = await glue.send(new GetJobRunCommand({ JobName: 'tight', RunId: small.JobRunId! }));
    expect(smallRun.JobRun?.JobRunState).toBe('STARTING');
    expect(smallRun.JobRun?.NumberOfWorkers).toBe(5);

    // Stop the first: STOPPING, then STOPPED; unknown ids are reported per id.
    const stop = await glue.send(new BatchStopJobRunCommand({ JobName: 'tight', JobRunIds: [first.JobRunId!, 'jr_missing'] }));
    expect(stop.SuccessfulSubmissions).toEqual([{ JobName: 'tight', JobRunId: first.JobRunId }]);
    expect(stop.Errors?.[0]).toMatchObject({ JobRunId: 'jr_missing', ErrorDetail: { ErrorCode: 'EntityNotFoundException' } });
    expect((await glue.send(new GetJobRunCommand({ JobName: 'tight', RunId: first.JobRunId! }))).JobRun?.JobRunState).toBe('STOPPING');
    sim.clock.advance(MIN);
    const stopped = await glue.send(new GetJobRunCommand({ JobName: 'tight', RunId: first.JobRunId! }));
    expect(stopped.JobRun?.JobRunState).toBe('STOPPED');
    expect(stopped.JobRun?.CompletedOn).toBeInstanceOf(Date);
  });

  it('errors carry the Glue error shape', async () => {
    await expect(glue.send(new StartJobRunCommand({ JobName: 'nope' }))).rejects.toMatchObject({ name: 'EntityNotFoundException' });
    await expect(glue.send(new GetJobRunCommand({ JobName: 'tight', RunId: 'jr_nope' }))).rejects.toMatchObject({ name: 'EntityNotFoundException' });
    const res = await fetch(sim.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSGlue.GetJob' },
      body: JSON.stringify({ JobName: 'nope' }),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('EntityNotFoundException');
    expect(await res.json()).toEqual({ __type: 'EntityNotFoundException', message: 'Job with name: nope not found' });
  });
});
