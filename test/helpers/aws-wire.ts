// Wire fixtures for nock: EC2 Query/XML (namespace 2016-11-15, <item> lists) and Glue JSON 1.1 (epoch-second times).
import nock from 'nock';

export const EC2_URL = 'http://127.0.0.1:45201';
export const GLUE_URL = 'http://127.0.0.1:45202';

export interface EniFixture {
  id: string;
  subnetId: string;
  status: 'in-use' | 'available';
  description?: string;
  requesterId?: string;
  requesterManaged?: boolean;
  interfaceType?: string;
  /** Private IPs; the first is the primary. */
  ips?: string[];
  prefixes?: string[];
  attachment?: { time: string; status: string; deleteOnTermination: boolean };
}

export const XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
export const XML_HEADERS = { 'content-type': 'text/xml;charset=UTF-8' };
export const JSON_HEADERS = { 'content-type': 'application/x-amz-json-1.1' };

export function eniXml(e: EniFixture): string {
  const ips = e.ips ?? ['10.0.1.10'];
  return `<item>
      <networkInterfaceId>${e.id}</networkInterfaceId>
      <subnetId>${e.subnetId}</subnetId>
      <vpcId>vpc-0a1b2c3d</vpcId>
      <availabilityZone>us-east-1a</availabilityZone>
      <description>${e.description ?? ''}</description>
      <ownerId>111122223333</ownerId>
      ${e.requesterId ? `<requesterId>${e.requesterId}</requesterId>` : ''}
      <requesterManaged>${e.requesterManaged ?? false}</requesterManaged>
      <status>${e.status}</status>
      <macAddress>02:1a:2b:3c:4d:5e</macAddress>
      ${ips[0] ? `<privateIpAddress>${ips[0]}</privateIpAddress>` : ''}
      <sourceDestCheck>true</sourceDestCheck>
      <interfaceType>${e.interfaceType ?? 'interface'}</interfaceType>
      <groupSet><item><groupId>sg-0a1b</groupId><groupName>glue</groupName></item></groupSet>
      ${
        e.attachment
          ? `<attachment>
        <attachmentId>eni-attach-${e.id.slice(4)}</attachmentId>
        <instanceOwnerId>amazon-aws</instanceOwnerId>
        <deviceIndex>1</deviceIndex>
        <networkCardIndex>0</networkCardIndex>
        <status>${e.attachment.status}</status>
        <attachTime>${e.attachment.time}</attachTime>
        <deleteOnTermination>${e.attachment.deleteOnTermination}</deleteOnTermination>
      </attachment>`
          : ''
      }
      <privateIpAddressesSet>${ips
        .map((ip, i) => `<item><privateIpAddress>${ip}</privateIpAddress><primary>${i === 0}</primary></item>`)
        .join('')}</privateIpAddressesSet>
      ${e.prefixes?.length ? `<ipv4PrefixSet>${e.prefixes.map((p) => `<item><ipv4Prefix>${p}</ipv4Prefix></item>`).join('')}</ipv4PrefixSet>` : ''}
      <ipv6AddressesSet/>
      <tagSet/>
    </item>`;
}

export function enisPageXml(enis: EniFixture[], nextToken?: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<DescribeNetworkInterfacesResponse xmlns="${XMLNS}">
  <requestId>fc45294c-006b-457b-bab9-012f5b3b0e40</requestId>
  <networkInterfaceSet>
    ${enis.map(eniXml).join('\n    ')}
  </networkInterfaceSet>
  ${nextToken ? `<nextToken>${nextToken}</nextToken>` : ''}
</DescribeNetworkInterfacesResponse>`;
}

export interface SubnetFixture {
  id: string;
  cidr: string;
  az: string;
  available: number;
}

export function subnetsXml(subnets: SubnetFixture[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<DescribeSubnetsResponse xmlns="${XMLNS}">
  <requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>
  <subnetSet>
    ${subnets
      .map(
        (s) => `<item>
      <subnetId>${s.id}</subnetId>
      <subnetArn>arn:aws:ec2:us-east-1:111122223333:subnet/${s.id}</subnetArn>
      <state>available</state>
      <ownerId>111122223333</ownerId>
      <vpcId>vpc-0a1b2c3d</vpcId>
      <cidrBlock>${s.cidr}</cidrBlock>
      <ipv6CidrBlockAssociationSet/>
      <availableIpAddressCount>${s.available}</availableIpAddressCount>
      <availabilityZone>${s.az}</availabilityZone>
      <availabilityZoneId>use1-az1</availabilityZoneId>
      <defaultForAz>false</defaultForAz>
      <mapPublicIpOnLaunch>false</mapPublicIpOnLaunch>
      <assignIpv6AddressOnCreation>false</assignIpv6AddressOnCreation>
    </item>`,
      )
      .join('\n    ')}
  </subnetSet>
</DescribeSubnetsResponse>`;
}

export function ec2ErrorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>5a0f4d1b-7c3e-4e1b-9b58-EXAMPLE</RequestID></Response>`;
}

export type Reply = [number, string | Record<string, unknown>, Record<string, string>];

export interface Ec2Call {
  action: string;
  form: URLSearchParams;
}
export interface GlueCall {
  target: string;
  body: Record<string, unknown>;
}

/** Serves EC2 Query calls from a handler and records every form it received. */
export function mockEc2(handler: (call: Ec2Call, nth: number) => Reply, url = EC2_URL): Ec2Call[] {
  const calls: Ec2Call[] = [];
  nock(url)
    .persist()
    .post('/')
    .reply((_uri, body) => {
      const form = new URLSearchParams(typeof body === 'string' ? body : String(body));
      const call = { action: form.get('Action') ?? '', form };
      calls.push(call);
      return handler(call, calls.filter((c) => c.action === call.action).length);
    });
  return calls;
}

/** Serves Glue JSON 1.1 calls from a handler and records every (target, body) it received. */
export function mockGlue(handler: (call: GlueCall, nth: number) => Reply, url = GLUE_URL): GlueCall[] {
  const calls: GlueCall[] = [];
  nock(url)
    .persist()
    .post('/')
    .reply(function (_uri, body) {
      const target = String(this.req.headers['x-amz-target'] ?? '').replace(/^AWSGlue\./, '');
      const parsed = (typeof body === 'string' ? (body ? JSON.parse(body) : {}) : body) as Record<string, unknown>;
      const call = { target, body: parsed };
      calls.push(call);
      return handler(call, calls.filter((c) => c.target === target).length);
    });
  return calls;
}

export const glueOk = (body: Record<string, unknown>): Reply => [200, body, JSON_HEADERS];
export const xmlOk = (body: string): Reply => [200, body, XML_HEADERS];
export const epoch = (iso: string): number => Date.parse(iso) / 1000;

/** A Glue account with no connections and no jobs. */
export const emptyGlue = (call: GlueCall): Reply => {
  if (call.target === 'GetConnections') return glueOk({ ConnectionList: [] });
  if (call.target === 'GetJobs') return glueOk({ Jobs: [] });
  return [400, { __type: 'InvalidInputException', Message: `unexpected ${call.target}` }, JSON_HEADERS];
};
