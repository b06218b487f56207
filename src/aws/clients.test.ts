import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import nock from 'nock';
import { isolatedAwsEnvironment } from '../../test/helpers/aws-env.js';
import { DescribeSubnetsCommand } from '@aws-sdk/client-ec2';
import { GetJobsCommand } from '@aws-sdk/client-glue';
// The SDK's own standard strategy with no backoff, so retry tests stay fast.
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { apiName, createAwsClients, createDynamoClient, DYNAMODB_TIMEOUTS, instrumentClient } from './clients.js';
import { dynamoDbSdk } from './sdk.js';

const EC2_URL = 'http://127.0.0.1:45101';
const GLUE_URL = 'http://127.0.0.1:45102';

const subnetsXml = (id: string) => `<?xml version="1.0" encoding="UTF-8"?>
<DescribeSubnetsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>
  <subnetSet>
    <item>
      <subnetId>${id}</subnetId>
      <state>available</state>
      <vpcId>vpc-0a1b2c3d</vpcId>
      <cidrBlock>10.0.1.0/26</cidrBlock>
      <availableIpAddressCount>59</availableIpAddressCount>
      <availabilityZone>us-east-1a</availabilityZone>
    </item>
  </subnetSet>
</DescribeSubnetsResponse>`;

const throttledXml = `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>d4904b2e-5f2b-4c3a-9a3b-EXAMPLE</RequestID></Response>`;

isolatedAwsEnvironment();

describe('apiName', () => {
  it('strips the Command suffix', () => {
    expect(apiName('DescribeNetworkInterfacesCommand')).toBe('DescribeNetworkInterfaces');
    expect(apiName('GetJobRuns')).toBe('GetJobRuns');
    expect(apiName(undefined)).toBe('unknown');
  });
});

describe('createAwsClients', () => {
  it('sends to the configured endpoints and region, counting one request per call', async () => {
    const requests: string[] = [];
    const { ec2, glue } = createAwsClients({
      region: 'eu-west-1',
      endpoints: { ec2: EC2_URL, glue: GLUE_URL },
      onRequest: (api) => requests.push(api),
    });
    let auth = '';
    const ec2Scope = nock(EC2_URL)
      .post('/')
      .reply(function (_uri, body) {
        auth = String(this.req.headers.authorization);
        const form = new URLSearchParams(String(body));
        expect(form.get('Action')).toBe('DescribeSubnets');
        expect(form.get('SubnetId.1')).toBe('subnet-0a1');
        return [200, subnetsXml('subnet-0a1'), { 'content-type': 'text/xml;charset=UTF-8' }];
      });
    const glueScope = nock(GLUE_URL)
      .post('/')
      .matchHeader('x-amz-target', 'AWSGlue.GetJobs')
      .reply(200, { Jobs: [{ Name: 'nightly', NumberOfWorkers: 10 }] }, { 'content-type': 'application/x-amz-json-1.1' });

    const out = await ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-0a1'] }));
    expect(out.Subnets?.[0]?.AvailableIpAddressCount).toBe(59);
    const jobs = await glue.send(new GetJobsCommand({}));
    expect(jobs.Jobs?.[0]?.NumberOfWorkers).toBe(10);

    expect(auth).toContain('/eu-west-1/ec2/aws4_request');
    expect(requests).toEqual(['DescribeSubnets', 'GetJobs']);
    expect(ec2Scope.isDone() && glueScope.isDone()).toBe(true);
  });

  it('leaves region and endpoints to the SDK when the config is silent (AWS_REGION, AWS_ENDPOINT_URL_EC2/_GLUE)', async () => {
    process.env.AWS_REGION = 'ap-southeast-2';
    process.env.AWS_ENDPOINT_URL_EC2 = EC2_URL;
    process.env.AWS_ENDPOINT_URL_GLUE = GLUE_URL;
    const { ec2, glue } = createAwsClients({});
    let auth = '';
    const ec2Scope = nock(EC2_URL)
      .post('/')
      .reply(function () {
        auth = String(this.req.headers.authorization);
        return [200, subnetsXml('subnet-0e1'), { 'content-type': 'text/xml' }];
      });
    const glueScope = nock(GLUE_URL)
      .post('/')
      .matchHeader('x-amz-target', 'AWSGlue.GetJobs')
      .reply(200, { Jobs: [] }, { 'content-type': 'application/x-amz-json-1.1' });

    const out = await ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-0e1'] }));
    expect(out.Subnets?.[0]?.SubnetId).toBe('subnet-0e1');
    await glue.send(new GetJobsCommand({}));
    expect(auth).toContain('/ap-southeast-2/ec2/aws4_request');
    expect(ec2Scope.isDone() && glueScope.isDone()).toBe(true);
  });

  it('retries a throttled request with the standard strategy and counts every attempt', async () => {
    const requests: string[] = [];
    const errors: string[] = [];
    const { ec2 } = createAwsClients({
      region: 'us-east-1',
      endpoints: { ec2: EC2_URL },
      retryStrategy: new ConfiguredRetryStrategy(3, 0),
      onRequest: (api) => requests.push(api),
      onError: (api) => errors.push(api),
    });
    const scope = nock(EC2_URL)
      .post('/')
      .reply(503, throttledXml, { 'content-type': 'text/xml' })
      .post('/')
      .reply(200, subnetsXml('subnet-0a1'), { 'content-type': 'text/xml' });

    const out = await ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-0a1'] }));
    expect(out.$metadata.attempts).toBe(2);
    expect(requests).toEqual(['DescribeSubnets', 'DescribeSubnets']);
    expect(errors).toEqual([]);
    expect(scope.isDone()).toBe(true);
  });

  it('reports the final error once, after maxAttempts requests', async () => {
    const requests: string[] = [];
    const errors: Array<[string, string]> = [];
    const { ec2 } = createAwsClients({
      region: 'us-east-1',
      endpoints: { ec2: EC2_URL },
      retryStrategy: new ConfiguredRetryStrategy(4, 0),
      onRequest: (api) => requests.push(api),
      onError: (api, err) => errors.push([api, (err as Error).name]),
    });
    const scope = nock(EC2_URL).post('/').times(4).reply(503, throttledXml, { 'content-type': 'text/xml' });

    await expect(ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-0a1'] }))).rejects.toMatchObject({
      name: 'RequestLimitExceeded',
    });
    expect(requests).toHaveLength(4);
    expect(errors).toEqual([['DescribeSubnets', 'RequestLimitExceeded']]);
    expect(scope.isDone()).toBe(true);
  });

  it('fails a request whose server never answers, after requestTimeoutMs, instead of hanging the sampler', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer(() => undefined); // accepts and reads, never answers
    silent.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as AddressInfo).port;
    nock.enableNetConnect(`127.0.0.1:${port}`);
    const errors: string[] = [];
    try {
      const { ec2 } = createAwsClients({
        region: 'us-east-1',
        endpoints: { ec2: `http://127.0.0.1:${port}` },
        maxAttempts: 1,
        requestTimeoutMs: 300,
        onError: (api) => errors.push(api),
      });
      const started = Date.now();
      const err = (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-0a1'] })).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(Error);
      expect(err.name).toBe('TimeoutError');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(errors).toEqual(['DescribeSubnets']);
    } finally {
      nock.disableNetConnect();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('instrumenting twice replaces the hooks instead of counting twice', async () => {
    const first: string[] = [];
    const second: string[] = [];
    const { glue } = createAwsClients({
      region: 'us-east-1',
      endpoints: { glue: GLUE_URL },
      onRequest: (api) => first.push(api),
    });
    instrumentClient(glue, { onRequest: (api) => second.push(api) });
    nock(GLUE_URL).post('/').reply(200, { Jobs: [] }, { 'content-type': 'application/x-amz-json-1.1' });
    await glue.send(new GetJobsCommand({}));
    expect(first).toEqual([]);
    expect(second).toEqual(['GetJobs']);
  });
});

describe('createDynamoClient', () => {
  it('gives up on a DynamoDB that never answers after its request timeout, twice, instead of hanging', async () => {
    let requests = 0;
    const sockets = new Set<Socket>();
    const server = createServer(() => requests++);
    server.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    nock.enableNetConnect(`127.0.0.1:${port}`);
    const client = createDynamoClient({ region: 'eu-west-1', endpoint: `http://127.0.0.1:${port}` });
    try {
      expect(await client.config.region()).toBe('eu-west-1');
      const { GetItemCommand } = dynamoDbSdk();
      const err = await client
        .send(new GetItemCommand({ TableName: 't', Key: { subnet_id: { S: 'probe' }, observed_at: { S: 'probe' } } }))
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'TimeoutError' });
      expect(requests).toBe(DYNAMODB_TIMEOUTS.maxAttempts);
    } finally {
      nock.disableNetConnect();
      client.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }, 30_000);
});
