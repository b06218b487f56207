// The DescribeNetworkInterfaces parser on its own: documents in, RawEni records out, no SDK and no network.
// (eni-page-command.test.ts checks, through a real EC2 client, that it reads every page as the SDK does.)
import { describe, expect, it } from 'vitest';
import { EniPageParser, parseEniPage, parseEniPageBody } from './eni-page-parser.js';
import { XMLNS, eniXml } from '../../test/helpers/aws-wire.js';

/** A response document from raw `<item>` ENI elements. */
function page(items: string[], nextToken?: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<DescribeNetworkInterfacesResponse xmlns="${XMLNS}"><requestId>req-1</requestId>
<networkInterfaceSet>${items.join('\n')}</networkInterfaceSet>${nextToken ? `<nextToken>${nextToken}</nextToken>` : ''}
</DescribeNetworkInterfacesResponse>`;
}

describe('EniPageParser', () => {
  it('reads the kept fields, decoding XML entities, from text and from UTF-8 bytes alike', () => {
    const xml = page([
      eniXml({
        id: 'eni-0e1',
        subnetId: 'subnet-0aaa',
        status: 'in-use',
        description: 'ETL &amp; reports &lt;prod&gt; &quot;q&quot; caf&#233; &#x2603; ☃',
        requesterId: 'AROA&amp;X',
        requesterManaged: true,
        interfaceType: 'interface',
        attachment: { time: '2026-04-09T06:00:00Z', status: 'attached', deleteOnTermination: true },
      }),
    ]);
    const fromText = parseEniPage(xml);
    expect(fromText.enis).toEqual([
      {
        id: 'eni-0e1',
        subnetId: 'subnet-0aaa',
        status: 'in-use',
        description: 'ETL & reports <prod> "q" café ☃ ☃',
        requesterId: 'AROA&X',
        requesterManaged: true,
        interfaceType: 'interface',
        privateIpCount: 1,
        ipv4PrefixCount: 0,
        attachTime: Date.parse('2026-04-09T06:00:00Z'),
        attachmentStatus: 'attached',
        deleteOnTermination: true,
      },
    ]);
    expect(fromText.requestId).toBe('req-1');
    expect(new EniPageParser().write(Buffer.from(xml, 'utf8')).end()).toEqual(fromText);
  });

  it('never takes a nested item, or a tag or group named like a field, for an ENI or its fields', () => {
    const xml = page([
      `<item><networkInterfaceId>eni-0n1</networkInterfaceId><subnetId>subnet-0aaa</subnetId><status>in-use</status>
        <groupSet><item><groupId>sg-1</groupId><groupName>status</groupName><status>available</status></item></groupSet>
        <tagSet><item><key>status</key><value>available</value></item><item><networkInterfaceId>eni-fake</networkInterfaceId></item></tagSet>
        <attachment><status>detaching</status><item><status>attached</status></item></attachment>
        <privateIpAddressesSet><item><privateIpAddress>10.0.1.10</privateIpAddress><item>nested</item></item></privateIpAddressesSet>
        <ipv6AddressesSet><item><ipv6Address>2001:db8::1</ipv6Address></item></ipv6AddressesSet></item>`,
    ]);
    const { enis } = parseEniPage(xml);
    expect(enis).toHaveLength(1);
    expect(enis[0]).toMatchObject({ id: 'eni-0n1', status: 'in-use', attachmentStatus: 'detaching', privateIpCount: 1, ipv4PrefixCount: 0 });
  });

  it('counts addresses and /28 prefixes; the primary address alone counts one; absent fields stay absent', () => {
    const xml = page([
      eniXml({
        id: 'eni-0p1',
        subnetId: 'subnet-0aaa',
        status: 'in-use',
        ips: ['10.0.1.10', '10.0.1.11', '10.0.1.12'],
        prefixes: ['10.0.1.16/28', '10.0.1.32/28'],
      }),
      '<item><networkInterfaceId>eni-0p2</networkInterfaceId><privateIpAddress>10.0.1.20</privateIpAddress></item>',
      '<item><networkInterfaceId>eni-0p3</networkInterfaceId><attachment><attachTime>not a time</attachTime></attachment></item>',
    ]);
    const { enis } = parseEniPage(xml);
    expect(enis.map((e) => [e.id, e.privateIpCount, e.ipv4PrefixCount])).toEqual([
      ['eni-0p1', 3, 2],
      ['eni-0p2', 1, 0],
      ['eni-0p3', 0, 0],
    ]);
    expect(enis[2]).toEqual({
      id: 'eni-0p3',
      subnetId: '',
      status: 'unknown',
      description: '',
      requesterManaged: false,
      privateIpCount: 0,
      ipv4PrefixCount: 0,
    });
  });

  it('reads the next token, and a page with no ENIs as an empty page', () => {
    expect(parseEniPage(page([], 'tok-2'))).toEqual({ enis: [], nextToken: 'tok-2', requestId: 'req-1' });
    expect(parseEniPage(`<DescribeNetworkInterfacesResponse><networkInterfaceSet/></DescribeNetworkInterfacesResponse>`)).toEqual({ enis: [] });
  });

  it('parses a body streamed in small chunks, split inside multi-byte characters', async () => {
    const xml = page(
      Array.from({ length: 30 }, (_, i) =>
        eniXml({ id: `eni-0s${i}`, subnetId: 'subnet-0aaa', status: 'in-use', description: `Glue café &amp; ☃ ${i}`, ips: ['10.0.1.1', '10.0.1.2'] }),
      ),
      'tok-next',
    );
    const bytes = Buffer.from(xml, 'utf8');
    async function* chunks(size: number): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
    }
    const whole = parseEniPage(xml);
    for (const size of [1, 2, 7, 4096]) {
      const streamed = await parseEniPageBody(chunks(size));
      expect(streamed).toEqual(whole);
    }
    expect(await parseEniPageBody(bytes)).toEqual(whole);
    expect(whole.enis).toHaveLength(30);
    expect(whole.enis[29]).toMatchObject({ id: 'eni-0s29', description: 'Glue café & ☃ 29', privateIpCount: 2 });
    expect(whole.nextToken).toBe('tok-next');
    expect(whole.requestId).toBe('req-1');
  });

  it('gives the event loop turns while it parses a large body that has already arrived', async () => {
    const xml = page(
      Array.from({ length: 1_000 }, (_, i) =>
        eniXml({ id: `eni-0t${i}`, subnetId: 'subnet-0aaa', status: 'in-use', description: `Attached to Glue ${i}`, ips: ['10.0.1.1'] }),
      ),
    );
    const bytes = Buffer.from(xml, 'utf8');
    // Every 16 KiB chunk is there at once (as a body read ahead is): only the parser can give the loop a turn.
    async function* received(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < bytes.length; i += 16_384) yield bytes.subarray(i, i + 16_384);
    }
    let turns = 0;
    const count = () => {
      turns++;
      timer = setImmediate(count);
    };
    let timer = setImmediate(count);
    const streamed = await parseEniPageBody(received());
    clearImmediate(timer);
    expect(streamed).toEqual(parseEniPage(xml));
    expect(streamed.enis).toHaveLength(1_000);
    // One turn per 128 KiB parsed, at least.
    expect(turns).toBeGreaterThanOrEqual(Math.floor(bytes.length / (128 * 1024)) - 1);
    expect(turns).toBeGreaterThan(0);
  });

  it('refuses a 2xx body that is not a DescribeNetworkInterfaces document, never reading it as no ENIs', async () => {
    expect(() => parseEniPage('<html><body>proxy</body></html>')).toThrow(/expected <DescribeNetworkInterfacesResponse>, got <html>/);
    expect(() => parseEniPage('')).toThrow(/^DescribeNetworkInterfaces response: no <DescribeNetworkInterfacesResponse> document/);
    // A body cut short (connection dropped mid-page) must fail, not read as a shorter page.
    const full = page([
      eniXml({ id: 'eni-0t1', subnetId: 'subnet-0aaa', status: 'in-use' }),
      eniXml({ id: 'eni-0t2', subnetId: 'subnet-0aaa', status: 'in-use' }),
    ]);
    expect(parseEniPage(full).enis).toHaveLength(2);
    expect(() => parseEniPage(full.slice(0, full.indexOf('eni-0t2')))).toThrow(/truncated body/);
    expect(() => parseEniPage(full.slice(0, -3))).toThrow(/truncated body/);
    expect(() => parseEniPage(`${full}<DescribeNetworkInterfacesResponse/>`)).toThrow(/after it/);
  });

  it('refuses text and bytes mixed in one document, and a body that is no byte stream', async () => {
    const parser = new EniPageParser().write('<DescribeNetworkInterfacesResponse>');
    expect(() => parser.write(Buffer.from('</DescribeNetworkInterfacesResponse>'))).toThrow(/text and bytes written to one document/);
    await expect(parseEniPageBody({ not: 'a stream' })).rejects.toThrow(/body is not a byte stream/);
  });
});
