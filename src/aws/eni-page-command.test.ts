import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeNetworkInterfacesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { sendEniPage } from './eni-page-command.js';
import { parseEniPage } from './eni-page-parser.js';
import { toRawEni } from './reader.js';
import type { RawEni } from './types.js';
import { XMLNS, ec2ErrorXml, eniXml, enisPageXml } from '../../test/helpers/aws-wire.js';
import { parseScenario, startSimulator, type RunningSimulator } from '../sim/index.js';

/** A local EC2 endpoint that answers every request with the current body and status. */
let server: Server;
let endpoint: string;
let reply: { status: number; body: string } = { status: 200, body: '' };
let requests = 0;

function client(): EC2Client {
  return new EC2Client({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
    retryStrategy: new ConfiguredRetryStrategy(3, 0),
  });
}

const INPUT = { Filters: [{ Name: 'subnet-id', Values: ['subnet-0aaa'] }], MaxResults: 1000 };

/** The same document through the stock SDK command (+ toRawEni) and through sendEniPage. */
async function bothWays(xml: string): Promise<{ sdk: RawEni[]; sdkToken?: string; ours: RawEni[]; ourToken?: string }> {
  reply = { status: 200, body: xml };
  const ec2 = client();
  try {
    const stock = await ec2.send(new DescribeNetworkInterfacesCommand(INPUT));
    const page = await sendEniPage(ec2, INPUT);
    return {
      sdk: (stock.NetworkInterfaces ?? []).map(toRawEni),
      sdkToken: stock.NextToken,
      ours: page.enis,
      ourToken: page.nextToken,
    };
  } finally {
    ec2.destroy();
  }
}

/** A response document from raw `<item>` ENI elements. */
function page(items: string[], nextToken?: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<DescribeNetworkInterfacesResponse xmlns="${XMLNS}"><requestId>req-1</requestId>
<networkInterfaceSet>${items.join('\n')}</networkInterfaceSet>${nextToken ? `<nextToken>${nextToken}</nextToken>` : ''}
</DescribeNetworkInterfacesResponse>`;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      res.writeHead(reply.status, { 'content-type': 'text/xml;charset=UTF-8' });
      res.end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('sendEniPage: DescribeNetworkInterfaces read by the streaming parser, as the SDK reads it', () => {
  it('decodes XML entities in descriptions and requester ids', async () => {
    const xml = page([
      eniXml({
        id: 'eni-0e1',
        subnetId: 'subnet-0aaa',
        status: 'in-use',
        description: 'ETL &amp; reports &lt;prod&gt; &quot;q&quot; caf&#233; &#x2603;',
        requesterId: 'AROA&amp;X',
      }),
    ]);
    const { sdk, ours } = await bothWays(xml);
    expect(ours[0]?.description).toBe('ETL & reports <prod> "q" café ☃');
    expect(ours[0]?.requesterId).toBe('AROA&X');
    expect(ours).toEqual(sdk);
  });

  it('takes only networkInterfaceSet items for ENIs, whatever item sets are nested inside them', async () => {
    const xml = page([
      `<item>
        <networkInterfaceId>eni-0n1</networkInterfaceId><subnetId>subnet-0aaa</subnetId><status>in-use</status>
        <groupSet><item><groupId>sg-1</groupId><groupName>status</groupName></item><item><groupId>sg-2</groupId></item></groupSet>
        <attachment><attachmentId>eni-attach-1</attachmentId><status>detaching</status>
          <attachTime>2026-04-09T01:51:32.000Z</attachTime><deleteOnTermination>true</deleteOnTermination>
          <enaSrdSpecification><enaSrdEnabled>false</enaSrdEnabled></enaSrdSpecification></attachment>
        <privateIpAddress>10.0.1.10</privateIpAddress>
        <privateIpAddressesSet>
          <item><privateIpAddress>10.0.1.10</privateIpAddress><primary>true</primary>
            <association><publicIp>203.0.113.9</publicIp><ipOwnerId>amazon</ipOwnerId></association></item>
          <item><privateIpAddress>10.0.1.11</privateIpAddress><primary>false</primary></item>
        </privateIpAddressesSet>
        <ipv6AddressesSet><item><ipv6Address>2001:db8::1</ipv6Address></item></ipv6AddressesSet>
        <ipv6PrefixSet><item><ipv6Prefix>2001:db8:1::/80</ipv6Prefix></item></ipv6PrefixSet>
        <tagSet><item><key>status</key><value>available</value></item><item><key>networkInterfaceId</key><value>eni-fake</value></item></tagSet>
        <association><publicIp>203.0.113.9</publicIp></association>
        <interfaceType>interface</interfaceType>
      </item>`,
      eniXml({ id: 'eni-0n2', subnetId: 'subnet-0bbb', status: 'available' }),
    ]);
    const { sdk, ours } = await bothWays(xml);
    expect(ours).toEqual([
      {
        id: 'eni-0n1',
        subnetId: 'subnet-0aaa',
        status: 'in-use',
        description: '',
        requesterManaged: false,
        interfaceType: 'interface',
        privateIpCount: 2,
        ipv4PrefixCount: 0,
        attachTime: Date.parse('2026-04-09T01:51:32.000Z'),
        attachmentStatus: 'detaching',
        deleteOnTermination: true,
      },
      {
        id: 'eni-0n2',
        subnetId: 'subnet-0bbb',
        status: 'available',
        description: '',
        requesterManaged: false,
        interfaceType: 'interface',
        privateIpCount: 1,
        ipv4PrefixCount: 0,
      },
    ]);
    expect(ours).toEqual(sdk);
  });

  it('counts secondary addresses and delegated /28 prefixes', async () => {
    const xml = page([
      eniXml({
        id: 'eni-0p1',
        subnetId: 'subnet-0aaa',
        status: 'in-use',
        interfaceType: 'interface',
        ips: ['10.0.1.10', '10.0.1.11', '10.0.1.12', '10.0.1.13'],
        prefixes: ['10.0.1.16/28', '10.0.1.32/28', '10.0.1.48/28'],
        attachment: { time: '2026-04-09T06:00:00Z', status: 'attached', deleteOnTermination: false },
      }),
    ]);
    const { sdk, ours } = await bothWays(xml);
    expect(ours[0]).toMatchObject({ privateIpCount: 4, ipv4PrefixCount: 3, deleteOnTermination: false, attachmentStatus: 'attached' });
    expect(ours[0]?.attachTime).toBe(Date.parse('2026-04-09T06:00:00Z'));
    expect(ours).toEqual(sdk);
  });

  it('leaves optional fields out when AWS leaves them out', async () => {
    const xml = page([
      '<item><networkInterfaceId>eni-0m1</networkInterfaceId><subnetId>subnet-0aaa</subnetId></item>',
      '<item><networkInterfaceId>eni-0m2</networkInterfaceId><status>available</status><privateIpAddress>10.0.1.20</privateIpAddress><description/></item>',
      '<item><networkInterfaceId>eni-0m3</networkInterfaceId><attachment><attachmentId>a</attachmentId></attachment><privateIpAddressesSet/></item>',
    ]);
    const { sdk, ours } = await bothWays(xml);
    expect(ours).toEqual([
      { id: 'eni-0m1', subnetId: 'subnet-0aaa', status: 'unknown', description: '', requesterManaged: false, privateIpCount: 0, ipv4PrefixCount: 0 },
      // No address set, but a primary address: one IP held, as the SDK mapping counts it.
      { id: 'eni-0m2', subnetId: '', status: 'available', description: '', requesterManaged: false, privateIpCount: 1, ipv4PrefixCount: 0 },
      { id: 'eni-0m3', subnetId: '', status: 'unknown', description: '', requesterManaged: false, privateIpCount: 0, ipv4PrefixCount: 0 },
    ]);
    for (const e of ours) expect(Object.keys(e)).not.toContain('requesterId');
    expect(ours).toEqual(sdk);
  });

  it('reads a page with zero ENIs, with and without a token', async () => {
    const empty = `<?xml version="1.0" encoding="UTF-8"?>
<DescribeNetworkInterfacesResponse xmlns="${XMLNS}"><requestId>r</requestId><networkInterfaceSet/></DescribeNetworkInterfacesResponse>`;
    const a = await bothWays(empty);
    expect(a.ours).toEqual([]);
    expect(a.ourToken).toBeUndefined();
    expect(a.ours).toEqual(a.sdk);

    const b = await bothWays(enisPageXml([], 'tok-2'));
    expect(b.ours).toEqual([]);
    expect(b.ourToken).toBe('tok-2');
    expect(b.sdkToken).toBe('tok-2');
  });

  it('refuses a 2xx body that is not a DescribeNetworkInterfaces document, never reading it as no ENIs', async () => {
    reply = { status: 200, body: '<html><body>proxy</body></html>' };
    const ec2 = client();
    try {
      await expect(sendEniPage(ec2, INPUT)).rejects.toThrow(/got <html>/);
    } finally {
      ec2.destroy();
    }
  });

  it('leaves errors to the SDK: a throttled page is retried, an error past retries keeps its code', async () => {
    const ec2 = client();
    try {
      reply = { status: 503, body: ec2ErrorXml('RequestLimitExceeded', 'Request limit exceeded.') };
      const before = requests;
      const err = await sendEniPage(ec2, INPUT).catch((e: unknown) => e);
      expect(requests - before).toBe(3);
      expect(err).toMatchObject({ name: 'RequestLimitExceeded', $metadata: { httpStatusCode: 503, attempts: 3 } });

      reply = { status: 400, body: ec2ErrorXml('InvalidParameterValue', 'bad filter') };
      const bad = await sendEniPage(ec2, INPUT).catch((e: unknown) => e);
      expect(bad).toMatchObject({ name: 'InvalidParameterValue', message: 'bad filter', $metadata: { httpStatusCode: 400 } });
    } finally {
      ec2.destroy();
    }
  });
});

describe('sendEniPage against the simulator', () => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator({
      scenario: parseScenario({
        start: '2026-04-06T00:00:00Z',
        seed: 11,
        subnets: [
          { id: 'subnet-0a1', cidr: '10.0.0.0/24', availabilityZone: 'us-east-1a' },
          { id: 'subnet-0b2', cidr: '10.0.1.0/24', availabilityZone: 'us-east-1b' },
        ],
        connections: [
          { name: 'conn-a', subnet: 'subnet-0a1' },
          { name: 'conn-b', subnet: 'subnet-0b2' },
        ],
        jobs: [
          { name: 'hourly-a', connection: 'conn-a', workers: 10, schedule: '0 * * * *', durationMinutes: { min: 20, max: 40 } },
          { name: 'hourly-b', connection: 'conn-b', workers: 8, schedule: '30 * * * *', durationMinutes: { min: 10, max: 30 } },
        ],
        lifecycle: { lingerInUseMinutes: { min: 40, max: 70 }, availableMinutes: { min: 30, max: 40 } },
        otherEnis: [
          { subnet: 'subnet-0a1', count: 5, addressesEach: 3, description: 'NAT & proxy <shared>' },
          { subnet: 'subnet-0b2', count: 20 },
        ],
      }),
      startAt: '2026-04-06T03:45:00Z',
      speed: 0,
    });
  });

  afterAll(async () => {
    await sim?.close();
  });

  it('maps a realistic page exactly as the SDK path does', async () => {
    const form = new URLSearchParams({
      Action: 'DescribeNetworkInterfaces',
      Version: '2016-11-15',
      'Filter.1.Name': 'subnet-id',
      'Filter.1.Value.1': 'subnet-0a1',
      'Filter.1.Value.2': 'subnet-0b2',
      MaxResults: '1000',
    });
    const res = await fetch(`${sim.url}/`, { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.status).toBe(200);
    const xml = await res.text();

    const { sdk, ours } = await bothWays(xml);
    expect(parseEniPage(xml).enis).toEqual(ours);
    expect(ours).toEqual(sdk);
    // The page is realistic: Glue ENIs in both states, attachments, multi-address ENIs, escaped descriptions.
    expect(ours.length).toBeGreaterThan(40);
    expect(ours.filter((e) => e.status === 'available').length).toBeGreaterThan(0);
    expect(ours.filter((e) => e.status === 'in-use' && e.requesterManaged && e.attachTime !== undefined).length).toBeGreaterThan(0);
    expect(ours.filter((e) => e.privateIpCount === 3 && e.description === 'NAT & proxy <shared>')).toHaveLength(5);
  });
});
