import { describe, expect, it } from 'vitest';
import { isolatedAwsEnvironment } from '../../test/helpers/aws-env.js';
// The SDK's own standard strategy with no backoff, so retry tests stay fast.
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { AwsReadError, AwsReader, eniPageBound, type AwsReaderOptions } from './reader.js';
import {
  EC2_URL,
  GLUE_URL,
  type EniFixture,
  XML_HEADERS,
  JSON_HEADERS,
  enisPageXml,
  type SubnetFixture,
  subnetsXml,
  ec2ErrorXml,
  type Reply,
  mockEc2,
  mockGlue,
  glueOk,
  xmlOk,
  epoch,
  emptyGlue,
} from '../../test/helpers/aws-wire.js';

const NOW = Date.parse('2026-04-09T07:03:00Z');
const HOUR = 3_600_000;

const SUBNET_A: SubnetFixture = { id: 'subnet-0aaa', cidr: '10.0.1.0/26', az: 'us-east-1a', available: 3 };
const SUBNET_B: SubnetFixture = { id: 'subnet-0bbb', cidr: '10.0.2.0/26', az: 'us-east-1b', available: 51 };
const SUBNET_C: SubnetFixture = { id: 'subnet-0ccc', cidr: '10.0.3.0/27', az: 'us-east-1c', available: 27 };

/** Answers DescribeSubnets with the requested subnets that exist, like EC2 (unknown id → NotFound). */
function subnetsReply(known: SubnetFixture[]) {
  return (form: URLSearchParams): Reply => {
    const ids = [...form.entries()].filter(([k]) => /^SubnetId\.\d+$/.test(k)).map(([, v]) => v);
    const missing = ids.find((id) => !known.some((s) => s.id === id));
    if (missing) return [400, ec2ErrorXml('InvalidSubnetID.NotFound', `The subnet ID '${missing}' does not exist`), XML_HEADERS];
    return xmlOk(subnetsXml(known.filter((s) => ids.includes(s.id))));
  };
}

function makeReader(extra: Partial<AwsReaderOptions> = {}): { reader: AwsReader; requests: string[] } {
  const requests: string[] = [];
  const reader = new AwsReader({
    region: 'us-east-1',
    endpoints: { ec2: EC2_URL, glue: GLUE_URL },
    runLookbackHours: 24,
    now: () => NOW,
    retryStrategy: new ConfiguredRetryStrategy(3, 0),
    onRequest: (api) => requests.push(api),
    ...extra,
  });
  return { reader, requests };
}

isolatedAwsEnvironment();

// ---------------------------------------------------------------------------------------------------------

describe('AwsReader EC2', () => {
  it('reads all ENIs over three pages, sending each NextToken back, and maps every field', async () => {
    const pages: Array<[EniFixture[], string | undefined]> = [
      [
        [
          {
            id: 'eni-01',
            subnetId: SUBNET_A.id,
            status: 'in-use',
            description: 'Attached to Glue using role: arn:aws:iam::111122223333:role/glue',
            requesterId: 'AROAEXAMPLE:GlueJobRunnerSession',
            requesterManaged: true,
            ips: ['10.0.1.10'],
            attachment: { time: '2026-04-09T01:51:32.000Z', status: 'attached', deleteOnTermination: false },
          },
          { id: 'eni-02', subnetId: SUBNET_A.id, status: 'available', ips: ['10.0.1.11', '10.0.1.12', '10.0.1.13'] },
        ],
        'token-page-2',
      ],
      [
        [
          { id: 'eni-03', subnetId: SUBNET_B.id, status: 'in-use', interfaceType: 'lambda', prefixes: ['10.0.2.16/28', '10.0.2.32/28'] },
          { id: 'eni-04', subnetId: SUBNET_B.id, status: 'available' },
        ],
        'token-page-3',
      ],
      [[{ id: 'eni-05', subnetId: SUBNET_A.id, status: 'in-use' }], undefined],
    ];
    const ec2 = mockEc2((call, nth) => {
      if (call.action === 'DescribeSubnets') return subnetsReply([SUBNET_A, SUBNET_B])(call.form);
      const [enis, next] = pages[nth - 1] ?? [[], undefined];
      return xmlOk(enisPageXml(enis, next));
    });
    mockGlue(emptyGlue);
    const { reader } = makeReader();

    const sample = await reader.read({ subnetIds: [SUBNET_A.id, SUBNET_B.id], discoverConnections: false });

    const eniCalls = ec2.filter((c) => c.action === 'DescribeNetworkInterfaces');
    expect(eniCalls.map((c) => c.form.get('NextToken'))).toEqual([null, 'token-page-2', 'token-page-3']);
    expect(sample.enis.map((e) => e.id).sort()).toEqual(['eni-01', 'eni-02', 'eni-03', 'eni-04', 'eni-05']);

    const byId = new Map(sample.enis.map((e) => [e.id, e]));
    expect(byId.get('eni-01')).toEqual({
      id: 'eni-01',
      subnetId: SUBNET_A.id,
      status: 'in-use',
      description: 'Attached to Glue using role: arn:aws:iam::111122223333:role/glue',
      requesterId: 'AROAEXAMPLE:GlueJobRunnerSession',
      requesterManaged: true,
      interfaceType: 'interface',
      privateIpCount: 1,
      ipv4PrefixCount: 0,
      attachTime: Date.parse('2026-04-09T01:51:32.000Z'),
      attachmentStatus: 'attached',
      deleteOnTermination: false,
    });
    expect(byId.get('eni-02')).toMatchObject({ status: 'available', privateIpCount: 3, requesterManaged: false });
    expect(byId.get('eni-02')?.attachTime).toBeUndefined();
    expect(byId.get('eni-03')).toMatchObject({ interfaceType: 'lambda', ipv4PrefixCount: 2, privateIpCount: 1 });

    expect(sample.subnets).toEqual([
      { subnetId: SUBNET_A.id, cidr: '10.0.1.0/26', availabilityZone: 'us-east-1a', availableIpAddressCount: 3, ownerId: '111122223333' },
      { subnetId: SUBNET_B.id, cidr: '10.0.2.0/26', availabilityZone: 'us-east-1b', availableIpAddressCount: 51, ownerId: '111122223333' },
    ]);
    expect(sample.glue).toEqual({ connections: [], jobs: [], runs: [] });
    expect(sample.glueError).toBeUndefined();
  });

  it('sends one subnet-id filter carrying every subnet, in the exact Query form fields', async () => {
    const ec2 = mockEc2((call) => {
      if (call.action === 'DescribeSubnets') return subnetsReply([SUBNET_A, SUBNET_B, SUBNET_C])(call.form);
      return xmlOk(enisPageXml([]));
    });
    mockGlue(emptyGlue);
    const { reader } = makeReader();

    await reader.read({ subnetIds: [SUBNET_C.id, SUBNET_A.id, SUBNET_B.id, SUBNET_A.id], discoverConnections: false });

    const dni = ec2.filter((c) => c.action === 'DescribeNetworkInterfaces');
    expect(dni).toHaveLength(1);
    expect(Object.fromEntries(dni[0]!.form.entries())).toEqual({
      Action: 'DescribeNetworkInterfaces',
      Version: '2016-11-15',
      'Filter.1.Name': 'subnet-id',
      'Filter.1.Value.1': SUBNET_A.id,
      'Filter.1.Value.2': SUBNET_B.id,
      'Filter.1.Value.3': SUBNET_C.id,
      IncludeManagedResources: 'true',
      MaxResults: '1000',
    });
    const ds = ec2.filter((c) => c.action === 'DescribeSubnets');
    expect(Object.fromEntries(ds[0]!.form.entries())).toEqual({
      Action: 'DescribeSubnets',
      Version: '2016-11-15',
      'SubnetId.1': SUBNET_A.id,
      'SubnetId.2': SUBNET_B.id,
      'SubnetId.3': SUBNET_C.id,
    });
  });

  it('rides out RequestLimitExceeded (503) with a retry, counting both attempts', async () => {
    mockEc2((call, nth) => {
      if (call.action === 'DescribeSubnets') return subnetsReply([SUBNET_A])(call.form);
      if (nth === 1) return [503, ec2ErrorXml('RequestLimitExceeded', 'Request limit exceeded.'), XML_HEADERS];
      return xmlOk(enisPageXml([{ id: 'eni-01', subnetId: SUBNET_A.id, status: 'in-use' }]));
    });
    mockGlue(emptyGlue);
    const { reader, requests } = makeReader();

    const sample = await reader.read({ subnetIds: [SUBNET_A.id], discoverConnections: false });

    expect(sample.enis.map((e) => e.id)).toEqual(['eni-01']);
    expect(requests.filter((a) => a === 'DescribeNetworkInterfaces')).toHaveLength(2);
    expect(requests.filter((a) => a === 'DescribeSubnets')).toHaveLength(1);
  });

  it('throws AwsReadError when a page keeps failing, never a half-read sample', async () => {
    const errors: string[] = [];
    mockEc2((call, nth) => {
      if (call.action === 'DescribeSubnets') return subnetsReply([SUBNET_A])(call.form);
      if (nth === 1) return xmlOk(enisPageXml([{ id: 'eni-01', subnetId: SUBNET_A.id, status: 'in-use' }], 'token-2'));
      return [503, ec2ErrorXml('RequestLimitExceeded', 'Request limit exceeded.'), XML_HEADERS];
    });
    mockGlue(emptyGlue);
    const { reader, requests } = makeReader({ onError: (api) => errors.push(api) });

    const err = await reader.read({ subnetIds: [SUBNET_A.id], discoverConnections: false }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(AwsReadError);
    expect(err).toMatchObject({ api: 'DescribeNetworkInterfaces', code: 'RequestLimitExceeded' });
    expect((err as Error).message).toContain('Request limit exceeded.');
    // page 1 once, page 2 three attempts
    expect(requests.filter((a) => a === 'DescribeNetworkInterfaces')).toHaveLength(4);
    expect(errors).toEqual(['DescribeNetworkInterfaces']);
  });

  it('names an unknown configured subnet (InvalidSubnetID.NotFound)', async () => {
    const ec2 = mockEc2((call) => {
      if (call.action === 'DescribeSubnets') return subnetsReply([SUBNET_A])(call.form);
      return xmlOk(enisPageXml([]));
    });
    mockGlue(emptyGlue);
    const { reader } = makeReader();

    const err = await reader.read({ subnetIds: [SUBNET_A.id, 'subnet-0dead'], discoverConnections: false }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(AwsReadError);
    expect(err).toMatchObject({ api: 'DescribeSubnets', code: 'InvalidSubnetID.NotFound', subnetIds: ['subnet-0dead'] });
    expect((err as Error).message).toContain('subnet-0dead');
    expect(ec2.some((c) => c.action === 'DescribeNetworkInterfaces')).toBe(false);
  });

  it('honours AWS_ENDPOINT_URL_EC2 / _GLUE and AWS_REGION when the config names none', async () => {
    process.env.AWS_REGION = 'us-west-2';
    process.env.AWS_ENDPOINT_URL_EC2 = EC2_URL;
    process.env.AWS_ENDPOINT_URL_GLUE = GLUE_URL;
    const ec2 = mockEc2((call) => {
      if (call.action === 'DescribeSubnets') return subnetsReply([SUBNET_A])(call.form);
      return xmlOk(enisPageXml([{ id: 'eni-01', subnetId: SUBNET_A.id, status: 'available' }]));
    });
    const glue = mockGlue(emptyGlue);
    const requests: string[] = [];
    const reader = new AwsReader({
      runLookbackHours: 24,
      now: () => NOW,
      onRequest: (api) => requests.push(api),
    });

    const sample = await reader.read({ subnetIds: [SUBNET_A.id], discoverConnections: false });

    expect(sample.enis.map((e) => e.id)).toEqual(['eni-01']);
    expect(sample.glue).toBeDefined();
    expect(ec2.map((c) => c.action)).toEqual(['DescribeSubnets', 'DescribeNetworkInterfaces']);
    expect(glue.map((c) => c.target)).toEqual(['GetConnections', 'GetJobs']);
    expect(requests).toEqual(['GetConnections', 'GetJobs', 'DescribeSubnets', 'DescribeNetworkInterfaces']);
  });

  it('makes no EC2 call when there is no subnet to watch', async () => {
    const ec2 = mockEc2(() => xmlOk(enisPageXml([])));
    mockGlue(emptyGlue);
    const { reader } = makeReader();

    const sample = await reader.read({ subnetIds: [], discoverConnections: true });

    expect(sample).toEqual({ subnets: [], enis: [], glue: { connections: [], jobs: [], runs: [] } });
    expect(ec2).toHaveLength(0);
  });
});

describe('AwsReader Glue', () => {
  it('goes on with EC2 only when Glue denies access', async () => {
    mockEc2((call) => {
      if (call.action === 'DescribeSubnets') return subnetsReply([SUBNET_A])(call.form);
      return xmlOk(enisPageXml([{ id: 'eni-01', subnetId: SUBNET_A.id, status: 'in-use', ips: ['10.0.1.5', '10.0.1.6'] }]));
    });
    const glue = mockGlue(() => [
      400,
      {
        __type: 'AccessDeniedException',
        Message: 'User: arn:aws:iam::111122223333:user/exporter is not authorized to perform: glue:GetConnections',
      },
      JSON_HEADERS,
    ]);
    const { reader } = makeReader();

    const sample = await reader.read({ subnetIds: [SUBNET_A.id], discoverConnections: true });

    expect(sample.glue).toBeUndefined();
    expect(sample.glueError?.api).toBe('GetConnections');
    expect(sample.glueError?.message).toContain('AccessDeniedException');
    expect(sample.subnets.map((s) => s.subnetId)).toEqual([SUBNET_A.id]);
    expect(sample.enis).toEqual([expect.objectContaining({ id: 'eni-01', privateIpCount: 2 })]);
    expect(glue.map((c) => c.target)).toEqual(['GetConnections']);
  });

  it('drops all Glue data when a later Glue call fails (GetJobRuns throttled past retries)', async () => {
    mockEc2((call) => {
      if (call.action === 'DescribeSubnets') return subnetsReply([SUBNET_A])(call.form);
      return xmlOk(enisPageXml([]));
    });
    mockGlue((call) => {
      if (call.target === 'GetConnections') {
        return glueOk({ ConnectionList: [{ Name: 'conn-a', PhysicalConnectionRequirements: { SubnetId: SUBNET_A.id } }] });
      }
      if (call.target === 'GetJobs') return glueOk({ Jobs: [{ Name: 'job-a', Connections: { Connections: ['conn-a'] } }] });
      return [400, { __type: 'ThrottlingException', Message: 'Rate exceeded' }, JSON_HEADERS];
    });
    const { reader, requests } = makeReader();

    const sample = await reader.read({ subnetIds: [SUBNET_A.id], discoverConnections: false });

    expect(sample.glue).toBeUndefined();
    expect(sample.glueError).toEqual({ api: 'GetJobRuns', message: 'ThrottlingException: Rate exceeded' });
    expect(requests.filter((a) => a === 'GetJobRuns')).toHaveLength(3);
    expect(sample.subnets).toHaveLength(1);
  });

  it('discovers subnets through GetConnections (paginated) and reads runs of jobs bound to them', async () => {
    const ec2 = mockEc2((call) => {
      if (call.action === 'DescribeSubnets') return subnetsReply([SUBNET_A, SUBNET_B, SUBNET_C])(call.form);
      return xmlOk(enisPageXml([{ id: 'eni-0b1', subnetId: SUBNET_B.id, status: 'in-use' }]));
    });
    const glue = mockGlue((call, nth) => {
      if (call.target === 'GetConnections') {
        return nth === 1
          ? glueOk({
              ConnectionList: [{ Name: 'conn-a', PhysicalConnectionRequirements: { SubnetId: SUBNET_A.id, AvailabilityZone: 'us-east-1a' } }],
              NextToken: 'conn-page-2',
            })
          : glueOk({
              ConnectionList: [
                { Name: 'conn-b', PhysicalConnectionRequirements: { SubnetId: SUBNET_B.id } },
                { Name: 'conn-jdbc', ConnectionType: 'JDBC' },
              ],
            });
      }
      if (call.target === 'GetJobs') {
        return glueOk({
          Jobs: [
            { Name: 'critical', Connections: { Connections: ['conn-a'] }, NumberOfWorkers: 10, WorkerType: 'G.1X' },
            { Name: 'reporting', Connections: { Connections: ['conn-b'] }, NumberOfWorkers: 5 },
            { Name: 'no-vpc', MaxCapacity: 2 },
          ],
        });
      }
      const job = String(call.body.JobName);
      return glueOk({
        JobRuns: [{ Id: `jr_${job}`, JobName: job, JobRunState: 'RUNNING', StartedOn: epoch('2026-04-09T07:00:00Z') }],
      });
    });
    const { reader } = makeReader();

    const sample = await reader.read({ subnetIds: [SUBNET_A.id], discoverConnections: true });

    expect(glue.filter((c) => c.target === 'GetConnections').map((c) => c.body)).toEqual([
      { HidePassword: true, MaxResults: 200 },
      { HidePassword: true, MaxResults: 200, NextToken: 'conn-page-2' },
    ]);
    expect(sample.glue?.connections).toEqual([
      { name: 'conn-a', subnetId: SUBNET_A.id },
      { name: 'conn-b', subnetId: SUBNET_B.id },
      { name: 'conn-jdbc' },
    ]);
    expect(sample.glue?.jobs).toEqual([
      { name: 'critical', connections: ['conn-a'], workers: 10 },
      { name: 'reporting', connections: ['conn-b'], workers: 5 },
      { name: 'no-vpc', connections: [] },
    ]);
    const runJobs = glue.filter((c) => c.target === 'GetJobRuns').map((c) => c.body.JobName);
    expect(runJobs.sort()).toEqual(['critical', 'reporting']);
    expect(sample.glue?.runs.map((r) => [r.jobName, r.workers]).sort()).toEqual([
      ['critical', 10],
      ['reporting', 5],
    ]);
    // discovered subnet B joins configured A in both EC2 reads
    expect(sample.subnets.map((s) => s.subnetId)).toEqual([SUBNET_A.id, SUBNET_B.id]);
    const dni = ec2.find((c) => c.action === 'DescribeNetworkInterfaces')!;
    expect([dni.form.get('Filter.1.Value.1'), dni.form.get('Filter.1.Value.2'), dni.form.get('Filter.1.Value.3')]).toEqual([
      SUBNET_A.id,
      SUBNET_B.id,
      null,
    ]);
  });

  it('without discovery, reads neither the other subnets nor runs of jobs bound to them', async () => {
    const ec2 = mockEc2((call) => {
      if (call.action === 'DescribeSubnets') return subnetsReply([SUBNET_A, SUBNET_B])(call.form);
      return xmlOk(enisPageXml([]));
    });
    const glue = mockGlue((call) => {
      if (call.target === 'GetConnections') {
        return glueOk({
          ConnectionList: [
            { Name: 'conn-a', PhysicalConnectionRequirements: { SubnetId: SUBNET_A.id } },
            { Name: 'conn-b', PhysicalConnectionRequirements: { SubnetId: SUBNET_B.id } },
          ],
        });
      }
      if (call.target === 'GetJobs') {
        return glueOk({
          Jobs: [
            { Name: 'critical', Connections: { Connections: ['conn-a'] }, NumberOfWorkers: 10 },
            { Name: 'reporting', Connections: { Connections: ['conn-b'] }, NumberOfWorkers: 5 },
          ],
        });
      }
      return glueOk({ JobRuns: [] });
    });
    const { reader } = makeReader();

    const sample = await reader.read({ subnetIds: [SUBNET_A.id], discoverConnections: false });

    expect(glue.filter((c) => c.target === 'GetJobRuns').map((c) => c.body.JobName)).toEqual(['critical']);
    expect(sample.subnets.map((s) => s.subnetId)).toEqual([SUBNET_A.id]);
    expect(ec2.find((c) => c.action === 'DescribeSubnets')!.form.get('SubnetId.2')).toBeNull();
  });

  it('drops a subnet named only by a stale connection instead of failing the sample', async () => {
    const ec2 = mockEc2((call) => {
      if (call.action === 'DescribeSubnets') return subnetsReply([SUBNET_A])(call.form);
      return xmlOk(enisPageXml([]));
    });
    mockGlue((call) => {
      if (call.target === 'GetConnections') {
        return glueOk({ ConnectionList: [{ Name: 'conn-gone', PhysicalConnectionRequirements: { SubnetId: 'subnet-0gone' } }] });
      }
      if (call.target === 'GetJobs') return glueOk({ Jobs: [] });
      return glueOk({ JobRuns: [] });
    });
    const { reader } = makeReader();

    const sample = await reader.read({ subnetIds: [SUBNET_A.id], discoverConnections: true });

    expect(sample.subnets.map((s) => s.subnetId)).toEqual([SUBNET_A.id]);
    const ds = ec2.filter((c) => c.action === 'DescribeSubnets');
    expect(ds.map((c) => c.form.get('SubnetId.2'))).toEqual(['subnet-0gone', null]);
    expect(ec2.find((c) => c.action === 'DescribeNetworkInterfaces')!.form.get('Filter.1.Value.2')).toBeNull();
  });

  it('pages GetJobRuns newest first only until the lookback, keeping old runs still active', async () => {
    mockEc2((call) => {
      if (call.action === 'DescribeSubnets') return subnetsReply([SUBNET_A])(call.form);
      return xmlOk(enisPageXml([]));
    });
    const runPages: Array<Record<string, unknown>> = [
      {
        JobRuns: [
          { Id: 'jr_6', JobName: 'critical', JobRunState: 'RUNNING', StartedOn: epoch('2026-04-09T07:00:02Z'), NumberOfWorkers: 20 },
          {
            Id: 'jr_5',
            JobName: 'critical',
            JobRunState: 'FAILED',
            StartedOn: epoch('2026-04-09T07:00:00.500Z'),
            CompletedOn: epoch('2026-04-09T07:00:04Z'),
            ErrorMessage: 'The specified subnet does not have enough free addresses to satisfy the request',
          },
          {
            Id: 'jr_4',
            JobName: 'critical',
            JobRunState: 'SUCCEEDED',
            StartedOn: epoch('2026-04-08T09:00:00Z'),
            CompletedOn: epoch('2026-04-08T10:00:00Z'),
          },
        ],
        NextToken: 'runs-2',
      },
      {
        JobRuns: [
          {
            Id: 'jr_3',
            JobName: 'critical',
            JobRunState: 'SUCCEEDED',
            StartedOn: epoch('2026-04-08T05:00:00Z'),
            CompletedOn: epoch('2026-04-08T08:00:00Z'),
          },
          { Id: 'jr_2', JobName: 'critical', JobRunState: 'STOPPING', StartedOn: epoch('2026-04-07T07:00:00Z') },
          {
            Id: 'jr_1',
            JobName: 'critical',
            JobRunState: 'SUCCEEDED',
            StartedOn: epoch('2026-04-06T07:00:00Z'),
            CompletedOn: epoch('2026-04-06T08:00:00Z'),
          },
        ],
        NextToken: 'runs-3',
      },
      { JobRuns: [{ Id: 'jr_0', JobName: 'critical', JobRunState: 'RUNNING', StartedOn: epoch('2026-04-01T07:00:00Z') }] },
    ];
    const glue = mockGlue((call, nth) => {
      if (call.target === 'GetConnections') {
        return glueOk({ ConnectionList: [{ Name: 'conn-a', PhysicalConnectionRequirements: { SubnetId: SUBNET_A.id } }] });
      }
      if (call.target === 'GetJobs') {
        return glueOk({ Jobs: [{ Name: 'critical', Connections: { Connections: ['conn-a'] }, NumberOfWorkers: 10 }] });
      }
      return glueOk(runPages[nth - 1] ?? { JobRuns: [] });
    });
    const { reader } = makeReader({ runLookbackHours: 24 });

    const sample = await reader.read({ subnetIds: [SUBNET_A.id], discoverConnections: false });

    const runCalls = glue.filter((c) => c.target === 'GetJobRuns');
    expect(runCalls.map((c) => c.body)).toEqual([
      { JobName: 'critical', MaxResults: 200 },
      { JobName: 'critical', MaxResults: 200, NextToken: 'runs-2' },
    ]);
    // cutoff = 2026-04-08T07:03Z. Page 2 reaches it (jr_3 started before): page 3 is never asked for.
    // jr_3 ended inside the lookback, jr_2 is still stopping, jr_1 is out.
    expect(sample.glue?.runs).toEqual([
      { jobName: 'critical', id: 'jr_6', state: 'RUNNING', startedOn: Date.parse('2026-04-09T07:00:02Z'), workers: 20 },
      {
        jobName: 'critical',
        id: 'jr_5',
        state: 'FAILED',
        startedOn: Date.parse('2026-04-09T07:00:00.500Z'),
        completedOn: Date.parse('2026-04-09T07:00:04Z'),
        errorMessage: 'The specified subnet does not have enough free addresses to satisfy the request',
        workers: 10,
      },
      {
        jobName: 'critical',
        id: 'jr_4',
        state: 'SUCCEEDED',
        startedOn: Date.parse('2026-04-08T09:00:00Z'),
        completedOn: Date.parse('2026-04-08T10:00:00Z'),
        workers: 10,
      },
      {
        jobName: 'critical',
        id: 'jr_3',
        state: 'SUCCEEDED',
        startedOn: Date.parse('2026-04-08T05:00:00Z'),
        completedOn: Date.parse('2026-04-08T08:00:00Z'),
        workers: 10,
      },
      { jobName: 'critical', id: 'jr_2', state: 'STOPPING', startedOn: Date.parse('2026-04-07T07:00:00Z'), workers: 10 },
    ]);
    expect(NOW - 24 * HOUR).toBe(Date.parse('2026-04-08T07:03:00Z'));
  });

  it('keeps exhaustion failures inside the lookback with their error message', async () => {
    mockEc2((call) => {
      if (call.action === 'DescribeSubnets') return subnetsReply([SUBNET_A])(call.form);
      return xmlOk(enisPageXml([]));
    });
    mockGlue((call) => {
      if (call.target === 'GetConnections') {
        return glueOk({ ConnectionList: [{ Name: 'conn-a', PhysicalConnectionRequirements: { SubnetId: SUBNET_A.id } }] });
      }
      if (call.target === 'GetJobs') {
        return glueOk({ Jobs: [{ Name: 'customer-analytics-daily', Connections: { Connections: ['conn-a'] }, NumberOfWorkers: 10 }] });
      }
      return glueOk({
        JobRuns: [
          {
            Id: 'jr_fail',
            JobName: 'customer-analytics-daily',
            JobRunState: 'FAILED',
            StartedOn: epoch('2026-04-09T07:00:01Z'),
            CompletedOn: epoch('2026-04-09T07:00:03Z'),
            ErrorMessage: 'The specified subnet does not have enough free addresses to satisfy the request',
            NumberOfWorkers: 10,
          },
        ],
      });
    });
    const { reader } = makeReader();

    const sample = await reader.read({ subnetIds: [SUBNET_A.id], discoverConnections: false });

    expect(sample.glue?.runs).toEqual([
      {
        jobName: 'customer-analytics-daily',
        id: 'jr_fail',
        state: 'FAILED',
        startedOn: Date.parse('2026-04-09T07:00:01Z'),
        completedOn: Date.parse('2026-04-09T07:00:03Z'),
        errorMessage: 'The specified subnet does not have enough free addresses to satisfy the request',
        workers: 10,
      },
    ]);
  });
});

// A service that answers every page with a fresh NextToken once drove ~23 calls/s for 80 s with no error:
// only a repeated token or 10,000 pages stopped it. Pages are now bounded by what the data could fill.
describe('AwsReader pagination bounds', () => {
  const endless = (api: string, nth: number) => `${api}-endless-${nth}`;

  it('fails DescribeNetworkInterfaces past the pages the subnets could fill, naming the API and the bound', async () => {
    mockEc2((call, nth) => {
      if (call.action === 'DescribeSubnets') return subnetsReply([SUBNET_A, SUBNET_C])(call.form);
      return xmlOk(enisPageXml([{ id: 'eni-01', subnetId: SUBNET_A.id, status: 'in-use' }], endless(call.action, nth)));
    });
    mockGlue(emptyGlue);
    const errors: string[] = [];
    const { reader, requests } = makeReader({ onError: (api) => errors.push(api) });

    const err = await reader.read({ subnetIds: [SUBNET_A.id, SUBNET_C.id], discoverConnections: false }).catch((e: unknown) => e);

    // A /26 and a /27: 96 addresses, one page of 1,000, plus 10 slack.
    expect(err).toBeInstanceOf(AwsReadError);
    expect(err).toMatchObject({ api: 'DescribeNetworkInterfaces', code: 'PaginationLimit' });
    expect((err as Error).message).toBe(
      'DescribeNetworkInterfaces failed: PaginationLimit: still a NextToken after 11 pages, the most expected ' +
        '(2 subnet(s) of 96 addresses fill 1 page(s) of 1000, plus 10 slack)',
    );
    expect(requests.filter((a) => a === 'DescribeNetworkInterfaces')).toHaveLength(11);
  });

  it('scales the ENI bound with the subnets: a /16 allows 66 pages + slack', () => {
    expect(eniPageBound(['10.0.0.0/16']).maxPages).toBe(66 + 10);
    expect(eniPageBound(['10.0.1.0/26', '10.0.2.0/26']).maxPages).toBe(1 + 10);
    // An unreadable CIDR counts as the largest subnet AWS allows, never as none.
    expect(eniPageBound(['']).maxPages).toBe(66 + 10);
  });

  it('drops Glue data when GetJobRuns pages past one run a minute over the lookback, naming the API and the bound', async () => {
    mockEc2((call) => {
      if (call.action === 'DescribeSubnets') return subnetsReply([SUBNET_A])(call.form);
      return xmlOk(enisPageXml([]));
    });
    mockGlue((call, nth) => {
      if (call.target === 'GetConnections') {
        return glueOk({ ConnectionList: [{ Name: 'conn-a', PhysicalConnectionRequirements: { SubnetId: SUBNET_A.id } }] });
      }
      if (call.target === 'GetJobs') return glueOk({ Jobs: [{ Name: 'job-a', Connections: { Connections: ['conn-a'] } }] });
      // Always a recent run, so the lookback never ends the paging.
      return glueOk({
        JobRuns: [{ Id: `jr_${nth}`, JobName: 'job-a', JobRunState: 'SUCCEEDED', StartedOn: NOW / 1000 - 60, CompletedOn: NOW / 1000 - 30 }],
        NextToken: endless(call.target, nth),
      });
    });
    const { reader, requests } = makeReader();

    const sample = await reader.read({ subnetIds: [SUBNET_A.id], discoverConnections: false });

    // 24 h lookback: 1,440 runs, 8 pages of 200, plus 10 slack.
    expect(sample.glue).toBeUndefined();
    expect(sample.glueError).toEqual({
      api: 'GetJobRuns',
      message:
        'PaginationLimit: still a NextToken after 18 pages, the most expected (1440 runs (one a minute over the lookback) fill 8 page(s) of 200, plus 10 slack)',
    });
    expect(requests.filter((a) => a === 'GetJobRuns')).toHaveLength(18);
    expect(sample.subnets).toHaveLength(1);
  });

  it.each(['GetConnections', 'GetJobs'])('stops an endless %s after 100 pages', async (api) => {
    mockEc2((call) => {
      if (call.action === 'DescribeSubnets') return subnetsReply([SUBNET_A])(call.form);
      return xmlOk(enisPageXml([]));
    });
    mockGlue((call, nth) => {
      if (call.target === api)
        return glueOk(api === 'GetJobs' ? { Jobs: [], NextToken: endless(api, nth) } : { ConnectionList: [], NextToken: endless(api, nth) });
      return emptyGlue(call);
    });
    const { reader, requests } = makeReader();

    const sample = await reader.read({ subnetIds: [SUBNET_A.id], discoverConnections: false });

    expect(sample.glueError?.api).toBe(api);
    expect(sample.glueError?.message).toMatch(/^PaginationLimit: still a NextToken after 100 pages, the most expected \(20000 entries/);
    expect(requests.filter((a) => a === api)).toHaveLength(100);
  });
});
