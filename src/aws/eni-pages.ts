// DescribeNetworkInterfaces pages read straight into RawEni records. The SDK's own deserializer builds a
// complete object tree of every ENI (tags, groups, addresses, ...) from ~1.3 KB of XML each: at 10,000 ENIs
// that is most of a sample's CPU and memory. Here a successful response body is streamed through a SAX parser
// that keeps only the fields the reader maps; everything else (endpoint, signing, retries, error parsing,
// request counting) stays with the EC2 client, and non-2xx responses still go through the SDK's deserializer,
// so throttling is classified and retried exactly as for any other command.
import {
  DescribeNetworkInterfacesCommand,
  type DescribeNetworkInterfacesCommandInput,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { SaxesParser } from 'saxes';
import type { RawEni } from './types.js';

/** One page of DescribeNetworkInterfaces. */
export interface EniPage {
  enis: RawEni[];
  nextToken?: string;
  requestId?: string;
}

const ROOT = 'DescribeNetworkInterfacesResponse';
/** Name under which the SDK installs its deserializer (`deserializerMiddlewareOption` of @smithy/core/schema). */
const SDK_DESERIALIZER = 'deserializerMiddleware';

/** The ENI fields kept, by element name directly under `networkInterfaceSet/item`. */
type EniField =
  | 'networkInterfaceId'
  | 'subnetId'
  | 'status'
  | 'description'
  | 'requesterId'
  | 'requesterManaged'
  | 'interfaceType'
  | 'privateIpAddress';
const ENI_FIELDS: ReadonlySet<string> = new Set<EniField>([
  'networkInterfaceId',
  'subnetId',
  'status',
  'description',
  'requesterId',
  'requesterManaged',
  'interfaceType',
  'privateIpAddress',
]);
const ATTACHMENT_FIELDS: ReadonlySet<string> = new Set(['attachTime', 'status', 'deleteOnTermination']);

interface EniDraft {
  id?: string;
  subnetId?: string;
  status?: string;
  description?: string;
  requesterId?: string;
  requesterManaged?: boolean;
  interfaceType?: string;
  hasPrimaryIp: boolean;
  privateIps: number;
  prefixes: number;
  attachTime?: number;
  attachmentStatus?: string;
  deleteOnTermination?: boolean;
}

const PREFIX = 'DescribeNetworkInterfaces response: ';

function malformed(err: unknown): Error {
  if (err instanceof Error && err.message.startsWith(PREFIX)) return err;
  return new Error(`${PREFIX}${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/**
 * Copies a string out of the parser's input. Values the parser hands out are slices of the network chunk they
 * came in; kept as they are, each ENI record would pin its whole chunk (all 1.3 MB of a page) in memory.
 */
function own(s: string): string {
  // A rope of two parts is flattened into a fresh string on first use; slicing it keeps only that copy.
  const rope = `_${s}`;
  rope.charCodeAt(rope.length - 1);
  return rope.slice(1);
}

/**
 * Streaming parser of one DescribeNetworkInterfaces response document (EC2 Query protocol, XML). Feed it text
 * with `write`, then `end` returns the page. ENIs are `networkInterfaceSet/item`; the `item`s nested in
 * groupSet, tagSet, privateIpAddressesSet, ipv4PrefixSet, ipv6AddressesSet, ... are counted or skipped by
 * their depth, never taken for ENIs. Values are interned: statuses, subnets, requesters and descriptions repeat
 * across thousands of ENIs.
 */
export class EniPageParser {
  private readonly sax = new SaxesParser();
  private readonly enis: RawEni[] = [];
  private readonly interned = new Map<string, string>();
  private nextToken: string | undefined;
  private requestId: string | undefined;
  private rootSeen = false;
  private depth = 0;
  /** Element names at depth 2 (child of the root) and 4 (child of an ENI item). */
  private level2 = '';
  private level4 = '';
  private eni: EniDraft | undefined;
  /** Element whose text is being collected, or '' when text is ignored. */
  private capture = '';
  private text = '';

  constructor() {
    this.sax.on('opentag', (tag) => this.open(tag.name));
    this.sax.on('closetag', (tag) => this.close(tag.name));
    this.sax.on('text', (t) => {
      if (this.capture) this.text += t;
    });
    this.sax.on('cdata', (t) => {
      if (this.capture) this.text += t;
    });
  }

  write(chunk: string): this {
    try {
      this.sax.write(chunk);
    } catch (err) {
      throw malformed(err);
    }
    return this;
  }

  end(): EniPage {
    try {
      this.sax.close();
    } catch (err) {
      throw malformed(err);
    }
    if (!this.rootSeen) throw new Error(`${PREFIX}no <${ROOT}> document`);
    const page: EniPage = { enis: this.enis };
    if (this.nextToken) page.nextToken = this.nextToken;
    if (this.requestId) page.requestId = this.requestId;
    return page;
  }

  private open(name: string): void {
    const depth = ++this.depth;
    this.capture = '';
    switch (depth) {
      case 1:
        // A 2xx with another document (an error envelope, an HTML proxy page) must not read as "no ENIs".
        if (name !== ROOT) throw new Error(`${PREFIX}expected <${ROOT}>, got <${name}>`);
        this.rootSeen = true;
        return;
      case 2:
        this.level2 = name;
        if (name === 'nextToken' || name === 'requestId') this.startText(name);
        return;
      case 3:
        if (this.level2 === 'networkInterfaceSet' && name === 'item') this.eni = { hasPrimaryIp: false, privateIps: 0, prefixes: 0 };
        return;
      case 4:
        this.level4 = name;
        if (this.eni && ENI_FIELDS.has(name)) this.startText(name);
        return;
      case 5:
        if (!this.eni) return;
        if (this.level4 === 'privateIpAddressesSet') {
          if (name === 'item') this.eni.privateIps++;
        } else if (this.level4 === 'ipv4PrefixSet') {
          if (name === 'item') this.eni.prefixes++;
        } else if (this.level4 === 'attachment' && ATTACHMENT_FIELDS.has(name)) {
          this.startText(name);
        }
        return;
      default:
        return;
    }
  }

  private close(name: string): void {
    const depth = this.depth--;
    const field = this.capture;
    const text = this.text;
    this.capture = '';
    this.text = '';
    if (depth === 3) {
      if (this.eni && name === 'item') this.enis.push(this.finish(this.eni));
      this.eni = undefined;
      return;
    }
    if (!field) return;
    if (depth === 2) {
      if (field === 'nextToken') this.nextToken = own(text);
      else this.requestId = own(text);
      return;
    }
    const eni = this.eni;
    if (!eni) return;
    if (depth === 4) this.setEniField(eni, field as EniField, text);
    else if (depth === 5) this.setAttachmentField(eni, field, text);
  }

  private startText(name: string): void {
    this.capture = name;
    this.text = '';
  }

  private intern(s: string): string {
    const known = this.interned.get(s);
    if (known !== undefined) return known;
    const copy = own(s);
    this.interned.set(copy, copy);
    return copy;
  }

  private setEniField(eni: EniDraft, field: EniField, text: string): void {
    switch (field) {
      case 'networkInterfaceId':
        eni.id = own(text);
        return;
      case 'subnetId':
        eni.subnetId = this.intern(text);
        return;
      case 'status':
        eni.status = this.intern(text);
        return;
      case 'description':
        eni.description = this.intern(text);
        return;
      case 'requesterId':
        eni.requesterId = this.intern(text);
        return;
      case 'requesterManaged':
        eni.requesterManaged = text === 'true';
        return;
      case 'interfaceType':
        eni.interfaceType = this.intern(text);
        return;
      case 'privateIpAddress':
        // The primary address; counted when the address set is absent, as the SDK path does.
        eni.hasPrimaryIp = text !== '';
        return;
    }
  }

  private setAttachmentField(eni: EniDraft, field: string, text: string): void {
    if (field === 'attachTime') {
      const t = Date.parse(text);
      if (Number.isFinite(t)) eni.attachTime = t;
    } else if (field === 'status') {
      eni.attachmentStatus = this.intern(text);
    } else if (field === 'deleteOnTermination') {
      eni.deleteOnTermination = text === 'true';
    }
  }

  /** Same record, same optional keys, as `toRawEni` makes from the SDK's NetworkInterface. */
  private finish(d: EniDraft): RawEni {
    const eni: RawEni = {
      id: d.id ?? '',
      subnetId: d.subnetId ?? '',
      status: d.status ?? 'unknown',
      description: d.description ?? '',
      requesterManaged: d.requesterManaged ?? false,
      privateIpCount: Math.max(d.privateIps, d.hasPrimaryIp ? 1 : 0),
      ipv4PrefixCount: d.prefixes,
    };
    if (d.requesterId !== undefined) eni.requesterId = d.requesterId;
    if (d.interfaceType !== undefined) eni.interfaceType = d.interfaceType;
    if (d.attachTime !== undefined) eni.attachTime = d.attachTime;
    if (d.attachmentStatus !== undefined) eni.attachmentStatus = d.attachmentStatus;
    if (d.deleteOnTermination !== undefined) eni.deleteOnTermination = d.deleteOnTermination;
    return eni;
  }
}

/** Parses a whole DescribeNetworkInterfaces response document. */
export function parseEniPage(xml: string): EniPage {
  return new EniPageParser().write(xml).end();
}

type Body = string | Uint8Array | AsyncIterable<Uint8Array | string>;

/** Streams a response body through the parser: the page's XML is never held whole. */
export async function parseEniPageBody(body: unknown): Promise<EniPage> {
  const parser = new EniPageParser();
  const b = body as Body;
  if (typeof b === 'string') return parser.write(b).end();
  const decoder = new TextDecoder('utf-8');
  if (b instanceof Uint8Array) return parser.write(decoder.decode(b)).end();
  if (b == null || typeof (b as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') {
    throw new TypeError(`${PREFIX}body is not a byte stream`);
  }
  for await (const chunk of b) {
    parser.write(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
  }
  return parser.write(decoder.decode()).end();
}

// Minimal shapes of the middleware contract (@smithy/types), kept local to this module.
interface HttpResponseLike {
  statusCode: number;
  headers: Record<string, string | undefined>;
  body?: unknown;
}
type DeserializeNext = (args: unknown) => Promise<{ response: unknown; output?: unknown }>;
type DeserializeMiddleware = (next: DeserializeNext, context: unknown) => (args: unknown) => Promise<{ response: unknown; output: unknown }>;
interface StackEntry {
  name?: string;
  step?: string;
}

/** What `send` resolves to for a DescribeEniPageCommand. */
export interface EniPageOutput {
  $metadata: { httpStatusCode?: number; requestId?: string; attempts?: number; totalRetryDelay?: number };
  NextToken?: string;
  enis: RawEni[];
}

/** The SDK's own deserializer middleware as installed on a client's stack (found by its documented name). */
function sdkDeserializer(clientStack: unknown): DeserializeMiddleware {
  let found: DeserializeMiddleware | undefined;
  // applyToStack copies every entry into the given stack; this one only records the deserializer.
  (clientStack as { applyToStack(to: unknown): void }).applyToStack({
    add(mw: DeserializeMiddleware, opts: StackEntry = {}) {
      if (opts.name === SDK_DESERIALIZER && opts.step === 'deserialize') found = mw;
    },
    addRelativeTo() {},
    identifyOnResolve() {
      return false;
    },
  });
  if (!found) throw new Error(`EC2 client: no "${SDK_DESERIALIZER}" middleware to delegate errors to`);
  return found;
}

function eniPageDeserializer(errors: DeserializeMiddleware): DeserializeMiddleware {
  return (next, context) => async (args) => {
    const { response } = await next(args);
    const res = response as HttpResponseLike;
    if (!(res.statusCode >= 200 && res.statusCode < 300)) {
      // The SDK's path for errors: same codes, same $metadata, hence the same retry decisions.
      return errors(async () => ({ response }), context)(args);
    }
    const page = await parseEniPageBody(res.body);
    const output: EniPageOutput = { $metadata: { httpStatusCode: res.statusCode }, enis: page.enis };
    const requestId = page.requestId ?? res.headers['x-amzn-requestid'];
    if (requestId !== undefined) output.$metadata.requestId = requestId;
    if (page.nextToken !== undefined) output.NextToken = page.nextToken;
    return { response, output };
  };
}

type ResolveArgs = Parameters<DescribeNetworkInterfacesCommand['resolveMiddleware']>;

/**
 * DescribeNetworkInterfaces exactly as the SDK sends it (same serializer, endpoint, signing, retries), whose
 * successful responses are read by EniPageParser. Send it with `sendEniPage`.
 */
export class DescribeEniPageCommand extends DescribeNetworkInterfacesCommand {
  override resolveMiddleware(...[clientStack, configuration, options]: ResolveArgs): ReturnType<DescribeNetworkInterfacesCommand['resolveMiddleware']> {
    // Same name, step and priority as the SDK's deserializer: the command's entry replaces the client's.
    this.middlewareStack.add(eniPageDeserializer(sdkDeserializer(clientStack)) as never, {
      name: SDK_DESERIALIZER,
      step: 'deserialize',
      tags: ['DESERIALIZER'],
      override: true,
    });
    return super.resolveMiddleware(clientStack, configuration, options);
  }
}

/** One page of ENIs through the client's full middleware stack. */
export async function sendEniPage(ec2: EC2Client, input: DescribeNetworkInterfacesCommandInput): Promise<EniPage> {
  const out = (await ec2.send(new DescribeEniPageCommand(input))) as unknown as EniPageOutput;
  const page: EniPage = { enis: out.enis };
  if (out.NextToken) page.nextToken = out.NextToken;
  if (out.$metadata.requestId) page.requestId = out.$metadata.requestId;
  return page;
}
