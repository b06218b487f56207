// STS AssumeRole and several accounts and regions in one simulator, through the real SDK: the credential provider
// the exporter uses (fromTemporaryCredentials) and EC2/Glue clients signing for each region.
import { readFileSync } from 'node:fs';
import { DescribeNetworkInterfacesCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetJobsCommand, GlueClient } from '@aws-sdk/client-glue';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScenarioText, startSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { repoPath } from '../helpers/paths.js';

const masterCredentials = { accessKeyId: 'AKIDSIMHUB', secretAccessKey: 'hub/secret/not-a-real-key' };
const STAGING_ROLE = 'arn:aws:iam::222222222222:role/glue-eni-exporter';
const LOCKED_ROLE = 'arn:aws:iam::222222222222:role/glue-eni-exporter-locked';

/** The shipped scenario, with its commented denied role switched on and credentials capped as asked. */
function scenario(maxCredentialSeconds = 3600) {
  const text = readFileSync(repoPath('scenarios', 'multi-account.yml'), 'utf8')
    .replace('# - {name: glue-eni-exporter-locked, deny: true}', '- {name: glue-eni-exporter-locked, deny: true}')
    .replace('maxCredentialSeconds: 3600', `maxCredentialSeconds: ${maxCredentialSeconds}`);
  return parseScenarioText(text, 'multi-account.yml');
}

function assumed(sim: RunningSimulator, RoleArn: string, ExternalId?: string) {
  return fromTemporaryCredentials({
    params: { RoleArn, RoleSessionName: 'glue-eni-exporter', ...(ExternalId ? { ExternalId } : {}) },
    masterCredentials,
    clientConfig: { endpoint: sim.url, region: 'eu-west-1' },
  });
}

const subnetIds = async (ec2: EC2Client) => ((await ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? []).map((s) => [s.SubnetId, s.OwnerId]);

describe('STS and several accounts and regions, through the real SDK', () => {
  let sim: RunningSimulator;
  const clients: { destroy(): void }[] = [];
  const ec2 = (region: string, credentials: EC2Client['config']['credentials'] | typeof masterCredentials, maxAttempts = 3) => {
    const c = new EC2Client({ endpoint: sim.url, region, credentials, maxAttempts });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    sim = await startSimulator({ scenario: scenario(), speed: 0 });
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await sim?.close();
  });

  it("assumes a role and reads that account's subnets in two regions at once; other keys act in the top-level account", async () => {
    const credentials = assumed(sim, STAGING_ROLE, 'staging-7f3a');
    const [eu, us] = await Promise.all([subnetIds(ec2('eu-west-1', credentials)), subnetIds(ec2('us-east-1', credentials))]);
    expect(eu).toEqual([['subnet-0e2a1', '222222222222']]);
    expect(us).toEqual([['subnet-0c2a1', '222222222222']]);
    // The hub's own keys: the top-level account, 111111111111, in the region they sign for.
    expect(await subnetIds(ec2('eu-west-1', masterCredentials))).toEqual([
      ['subnet-0e1a1', '111111111111'],
      ['subnet-0e1b1', '111111111111'],
    ]);
    const counts = sim.requestCounts();
    expect(counts['222222222222/eu-west-1'].DescribeSubnets).toBe(1);
    expect(counts['222222222222/us-east-1'].DescribeSubnets).toBe(1);
    expect(counts.sts.AssumeRole).toBeGreaterThanOrEqual(1);
  });

  it('Glue answers per world too: the jobs of the account and region signed for', async () => {
    const glue = new GlueClient({ endpoint: sim.url, region: 'us-east-1', credentials: assumed(sim, STAGING_ROLE, 'staging-7f3a') });
    clients.push(glue);
    expect((await glue.send(new GetJobsCommand({}))).Jobs?.map((j) => [j.Name, j.Role])).toEqual([
      ['nightly-etl', 'arn:aws:iam::222222222222:role/AWSGlueServiceRole-etl'],
    ]);
  });

  it('a role whose trust policy refuses the caller is AccessDenied (403), in AWS words', async () => {
    await expect(ec2('eu-west-1', assumed(sim, LOCKED_ROLE)).send(new DescribeSubnetsCommand({}))).rejects.toMatchObject({
      name: 'AccessDenied',
      message: `User: arn:aws:iam::111111111111:user/sim is not authorized to perform: sts:AssumeRole on resource: ${LOCKED_ROLE}`,
      $metadata: { httpStatusCode: 403 },
    });
  });

  it('a wrong or missing ExternalId, or a role that does not exist, is the same AccessDenied', async () => {
    for (const [role, externalId] of [
      [STAGING_ROLE, 'staging-0000'],
      [STAGING_ROLE, undefined],
      ['arn:aws:iam::333333333333:role/glue-eni-exporter', undefined],
    ] as const) {
      await expect(ec2('eu-west-1', assumed(sim, role, externalId)).send(new DescribeSubnetsCommand({}))).rejects.toMatchObject({
        name: 'AccessDenied',
        message: `User: arn:aws:iam::111111111111:user/sim is not authorized to perform: sts:AssumeRole on resource: ${role}`,
      });
    }
  });

  it('an (account, region) without a world answers as AWS does for things not there', async () => {
    const credentials = assumed(sim, 'arn:aws:iam::111111111111:role/glue-eni-exporter');
    const client = ec2('ap-southeast-2', credentials, 1);
    expect(
      (await client.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'subnet-id', Values: ['subnet-0e1a1'] }] }))).NetworkInterfaces,
    ).toEqual([]);
    await expect(client.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-0e1a1'] }))).rejects.toMatchObject({
      name: 'InvalidSubnetID.NotFound',
      message: "The subnet ID 'subnet-0e1a1' does not exist",
    });
  });

  it("the control endpoints take the world's account and region: its state, its own faults", async () => {
    const state = (await (await fetch(`${sim.url}/_sim/state?account=222222222222&region=us-east-1`)).json()) as {
      account: string;
      subnets: { id: string }[];
      worlds: { key: string }[];
    };
    expect(state.account).toBe('222222222222');
    expect(state.subnets.map((s) => s.id)).toEqual(['subnet-0c2a1']);
    expect(state.worlds.map((w) => w.key)).toHaveLength(4);
    const missing = await fetch(`${sim.url}/_sim/state?account=222222222222&region=ap-south-1`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toContain('no world for account 222222222222, region ap-south-1');

    // Throttle one world only: the other region of the same account answers.
    const set = await fetch(`${sim.url}/_sim/faults?account=222222222222&region=us-east-1`, {
      method: 'POST',
      body: JSON.stringify({ throttleRate: 1 }),
    });
    expect(set.status).toBe(200);
    const credentials = assumed(sim, STAGING_ROLE, 'staging-7f3a');
    await expect(ec2('us-east-1', credentials, 1).send(new DescribeSubnetsCommand({}))).rejects.toMatchObject({ name: 'RequestLimitExceeded' });
    expect(await subnetIds(ec2('eu-west-1', credentials, 1))).toEqual([['subnet-0e2a1', '222222222222']]);
    sim.setFaults({ throttleRate: 0 }, { account: '222222222222', region: 'us-east-1' });
    expect(await subnetIds(ec2('us-east-1', credentials, 1))).toEqual([['subnet-0c2a1', '222222222222']]);
  });
});

describe('credentials that expire', () => {
  let sim: RunningSimulator;
  beforeAll(async () => {
    sim = await startSimulator({ scenario: scenario(1), speed: 0 });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('are refreshed by the SDK (AssumeRole again), and a key past its Expiration is refused with each service’s error', async () => {
    const provider = assumed(sim, 'arn:aws:iam::111111111111:role/glue-eni-exporter');
    const client = new EC2Client({ endpoint: sim.url, region: 'us-east-1', credentials: provider });
    try {
      expect(await subnetIds(client)).toEqual([['subnet-0c1a1', '111111111111']]);
      const first = sim.assumeRoleCount();
      expect(first).toBeGreaterThanOrEqual(1);
      // Issued for 1 s: well inside the SDK's refresh window, so the next call assumes the role again.
      await new Promise((r) => setTimeout(r, 1100));
      expect(await subnetIds(client)).toEqual([['subnet-0c1a1', '111111111111']]);
      expect(sim.assumeRoleCount()).toBeGreaterThan(first);
    } finally {
      client.destroy();
    }

    // The same credentials, held past their Expiration.
    const held = await provider();
    expect(held.expiration!.getTime() - Date.now()).toBeLessThanOrEqual(2000);
    await new Promise((r) => setTimeout(r, Math.max(0, held.expiration!.getTime() - Date.now()) + 50));
    const stale = new EC2Client({ endpoint: sim.url, region: 'us-east-1', credentials: held, maxAttempts: 1 });
    const staleGlue = new GlueClient({ endpoint: sim.url, region: 'us-east-1', credentials: held, maxAttempts: 1 });
    try {
      await expect(stale.send(new DescribeSubnetsCommand({}))).rejects.toMatchObject({
        name: 'RequestExpired',
        message: 'Request has expired.',
        $metadata: { httpStatusCode: 400 },
      });
      await expect(staleGlue.send(new GetJobsCommand({}))).rejects.toMatchObject({
        name: 'ExpiredTokenException',
        message: 'The security token included in the request is expired',
      });
    } finally {
      stale.destroy();
      staleGlue.destroy();
    }
    // STS itself refuses it too (Query protocol, ExpiredToken 403).
    const sts = await fetch(sim.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `AWS4-HMAC-SHA256 Credential=${held.accessKeyId}/20260406/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
    });
    expect(sts.status).toBe(403);
    expect(await sts.text()).toContain(
      '<Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message></Error>',
    );
  });
});
