import {
  DeleteNetworkInterfaceCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  EC2Client,
  paginateDescribeNetworkInterfaces,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { parseScenario } from '../../src/sim/scenario.js';

const MIN = 60_000;
const START = Date.parse('2026-04-06T06:58:00Z');

// Two subnets; at 07:00 a 12-worker job lands in A and an 8-worker job in B (a /28: 11 usable, 2 held by others).
const scenario = parseScenario({
  start: '2026-04-06T06:58:00Z',
  seed: 7,
  subnets: [
    { id: 'subnet-0a1', cidr: '10.0.0.0/26', availabilityZone: 'us-east-1a' },
    { id: 'subnet-0b2', cidr: '10.0.0.64/28', availabilityZone: 'us-east-1b' },
    { id: 'subnet-0c3', cidr: '10.0.0.128/27', availabilityZone: 'us-east-1c' },
  ],
  connections: [
    { name: 'glue-a', subnet: 'subnet-0a1' },
    { name: 'glue-b', subnet: 'subnet-0b2' },
  ],
  jobs: [
    { name: 'etl-a', connection: 'glue-a', workers: 12, schedule: '0 7 * * *', durationMinutes: { min: 10, max: 15 } },
    { name: 'etl-b', connection: 'glue-b', workers: 8, schedule: '0 7 * * *', durationMinutes: { min: 60, max: 90 } },
  ],
  lifecycle: { lingerInUseMinutes: { min: 5, max: 10 }, availableMinutes: { min: 30, max: 40 } },
  otherEnis: [
    { subnet: 'subnet-0b2', count: 2, addressesEach: 1, description: 'NAT instance' },
    { subnet: 'subnet-0c3', count: 3, addressesEach: 2 },
  ],
});

let sim: RunningSimulator;
let ec2: EC2Client;

beforeAll(async () => {
  sim = await startSimulator({ scenario, speed: 0 });
  ec2 = new EC2Client({ endpoint: sim.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  sim.clock.advanceTo(START + 3 * MIN); // 07:01: both runs attached
});

afterAll(async () => {
  ec2?.destroy();
  await sim?.close();
});

const ids = (list: NetworkInterface[] | undefined) => (list ?? []).map((e) => e.NetworkInterfaceId!).sort();

describe('DescribeNetworkInterfaces', () => {
  it('returns every ENI with the real shape: attachment, addresses, requester-managed, description', async () => {
    const out = await ec2.send(new DescribeNetworkInterfacesCommand({}));
    const all = out.NetworkInterfaces ?? [];
    expect(all).toHaveLength(12 + 8 + 2 + 3);
    expect(ids(all)).toEqual(sim.world.networkInterfaces().map((e) => e.NetworkInterfaceId));
    const glue = all.find((e) => e.SubnetId === 'subnet-0a1')!;
    expect(glue.Status).toBe('in-use');
    expect(glue.Description).toBe('Attached to Glue using role: arn:aws:iam::123456789012:role/AWSGlueServiceRole-etl');
    expect(glue.RequesterManaged).toBe(true);
    expect(glue.RequesterId).toMatch(/^AROA/);
    expect(glue.InterfaceType).toBe('interface');
    expect(glue.Attachment?.DeleteOnTermination).toBe(false);
    expect(glue.Attachment?.Status).toBe('attached');
    expect(glue.Attachment?.AttachTime).toBeInstanceOf(Date);
    const truth = sim.world.eniTruth().find((t) => t.id === glue.NetworkInterfaceId)!;
    expect(glue.Attachment?.AttachTime?.getTime()).toBe(truth.attachedAt);
    expect(glue.PrivateIpAddresses?.[0]?.Primary).toBe(true);
    expect(glue.PrivateIpAddress).toBe(glue.PrivateIpAddresses?.[0]?.PrivateIpAddress);
    const multi = all.find((e) => e.SubnetId === 'subnet-0c3')!;
    expect(multi.PrivateIpAddresses).toHaveLength(2);
    expect(multi.RequesterManaged).toBe(false);
    expect(multi.Attachment?.InstanceId).toMatch(/^i-0/);
  });

  it('pages with MaxResults 5 and NextToken across several pages', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const out = await ec2.send(new DescribeNetworkInterfacesCommand({ MaxResults: 5, NextToken: token }));
      expect((out.NetworkInterfaces ?? []).length).toBeLessThanOrEqual(5);
      seen.push(...ids(out.NetworkInterfaces));
      token = out.NextToken;
      pages++;
    } while (token);
    expect(pages).toBe(5); // 25 ENIs
    expect(seen.sort()).toEqual(sim.world.networkInterfaces().map((e) => e.NetworkInterfaceId));
  });

  it('works with the SDK paginator and a filter', async () => {
    const seen: string[] = [];
    let pages = 0;
    for await (const page of paginateDescribeNetworkInterfaces(
      { client: ec2, pageSize: 5 },
      { Filters: [{ Name: 'subnet-id', Values: ['subnet-0a1'] }] },
    )) {
      pages++;
      seen.push(...ids(page.NetworkInterfaces));
    }
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual(
      sim.world
        .networkInterfaces()
        .filter((e) => e.SubnetId === 'subnet-0a1')
        .map((e) => e.NetworkInterfaceId),
    );
  });

  it('filters: subnet-id takes several values', async () => {
    const out = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'subnet-id', Values: ['subnet-0b2', 'subnet-0c3'] }] }));
    expect(out.NetworkInterfaces).toHaveLength(8 + 2 + 3);
    expect(new Set(out.NetworkInterfaces!.map((e) => e.SubnetId))).toEqual(new Set(['subnet-0b2', 'subnet-0c3']));
  });

  it('filters: description with wildcards, requester-managed, and filters combine', async () => {
    const glue = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'description', Values: ['Attached to Glue*'] }] }));
    expect(glue.NetworkInterfaces).toHaveLength(20);
    const nat = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'description', Values: ['*NAT*', 'nothing?'] }] }));
    expect(nat.NetworkInterfaces).toHaveLength(2);
    const rm = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'requester-managed', Values: ['false'] }] }));
    expect(rm.NetworkInterfaces).toHaveLength(5);
    const both = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [
          { Name: 'requester-managed', Values: ['true'] },
          { Name: 'subnet-id', Values: ['subnet-0b2'] },
        ],
      }),
    );
    expect(both.NetworkInterfaces).toHaveLength(8);
  });

  it('filters: status follows the lifecycle', async () => {
    const inUse = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'status', Values: ['in-use'] }] }));
    expect(inUse.NetworkInterfaces).toHaveLength(25);
    const avail = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'status', Values: ['available'] }] }));
    expect(avail.NetworkInterfaces ?? []).toHaveLength(0);
  });

  it('NetworkInterfaceId.N selects ENIs; unknown ids and MaxResults with ids are refused like AWS', async () => {
    const want = sim.world
      .networkInterfaces()
      .slice(0, 3)
      .map((e) => e.NetworkInterfaceId);
    const out = await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: want }));
    expect(ids(out.NetworkInterfaces)).toEqual([...want].sort());
    await expect(ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: ['eni-0000000000000dead'] }))).rejects.toMatchObject({
      name: 'InvalidNetworkInterfaceID.NotFound',
      message: "The networkInterface ID 'eni-0000000000000dead' does not exist",
      $metadata: { httpStatusCode: 400 },
    });
    await expect(ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: want, MaxResults: 5 }))).rejects.toMatchObject({
      name: 'InvalidParameterCombination',
    });
  });

  it('validates MaxResults (5-1000), filter names and tokens', async () => {
    await expect(ec2.send(new DescribeNetworkInterfacesCommand({ MaxResults: 4 }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(ec2.send(new DescribeNetworkInterfacesCommand({ MaxResults: 1001 }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'colour', Values: ['red'] }] }))).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: "The filter 'colour' is invalid",
    });
    await expect(ec2.send(new DescribeNetworkInterfacesCommand({ MaxResults: 5, NextToken: 'garbage!' }))).rejects.toMatchObject({
      name: 'InvalidPaginationToken',
    });
  });
});

describe('DescribeSubnets', () => {
  it('reports CIDR, AZ, VPC, state and AvailableIpAddressCount from the model', async () => {
    const out = await ec2.send(new DescribeSubnetsCommand({}));
    expect(out.Subnets).toHaveLength(3);
    for (const s of out.Subnets!) {
      const model = sim.world.subnet(s.SubnetId!)!;
      expect(s.AvailableIpAddressCount).toBe(model.AvailableIpAddressCount);
      expect(s.CidrBlock).toBe(model.CidrBlock);
      expect(s.AvailabilityZone).toBe(model.AvailabilityZone);
      expect(s.VpcId).toBe(scenario.vpcId);
      expect(s.State).toBe('available');
    }
    const a = out.Subnets!.find((s) => s.SubnetId === 'subnet-0a1')!;
    expect(a.AvailableIpAddressCount).toBe(59 - 12);
    const b = out.Subnets!.find((s) => s.SubnetId === 'subnet-0b2')!;
    expect(b.AvailableIpAddressCount).toBe(11 - 2 - 8);
    const c = out.Subnets!.find((s) => s.SubnetId === 'subnet-0c3')!;
    expect(c.AvailableIpAddressCount).toBe(27 - 6);
  });

  it('takes SubnetId.N and the subnet-id filter; unknown ids are NotFound', async () => {
    const byId = await ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-0b2'] }));
    expect(byId.Subnets!.map((s) => s.SubnetId)).toEqual(['subnet-0b2']);
    const byFilter = await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'subnet-id', Values: ['subnet-0a1', 'subnet-0c3'] }] }));
    expect(byFilter.Subnets!.map((s) => s.SubnetId)).toEqual(['subnet-0a1', 'subnet-0c3']);
    await expect(ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-0ff'] }))).rejects.toMatchObject({ name: 'InvalidSubnetID.NotFound' });
  });
});

describe('DeleteNetworkInterface', () => {
  it('is refused while the ENI is in use and accepted once it is available', async () => {
    const target = sim.world.eniTruth().find((t) => t.jobName === 'etl-a')!;
    await expect(ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: target.id }))).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: `Network interface '${target.id}' is currently in use.`,
      $metadata: { httpStatusCode: 400 },
    });
    // etl-a ends by 07:15; its ENIs linger 5-10 minutes, then are available for 30-40.
    sim.clock.advanceTo(START + 2 * MIN + 15 * MIN + 11 * MIN);
    const avail = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'status', Values: ['available'] }] }));
    expect(avail.NetworkInterfaces).toHaveLength(12);
    expect(avail.NetworkInterfaces!.every((e) => e.Attachment === undefined)).toBe(true);
    const before = (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-0a1'] }))).Subnets![0].AvailableIpAddressCount!;
    const out = await ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: target.id }));
    expect(out.$metadata.httpStatusCode).toBe(200);
    const after = (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-0a1'] }))).Subnets![0].AvailableIpAddressCount!;
    expect(after).toBe(before + 1);
    await expect(ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: target.id }))).rejects.toMatchObject({
      name: 'InvalidNetworkInterfaceID.NotFound',
    });
  });
});
