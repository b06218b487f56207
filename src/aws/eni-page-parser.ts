// A DescribeNetworkInterfaces response document (EC2 Query protocol, XML) read straight into RawEni records,
// streamed through htmlparser2's XML tokenizer and keeping only the fields the reader maps. Pure: text or bytes
// in, records out; no SDK. The SDK's own deserializer builds a complete object tree of every ENI (tags, groups,
// addresses, ...) from ~1.3 KB of XML each: at 10,000 ENIs that is most of a sample's CPU and memory.
// eni-page-command.ts puts this parser in the EC2 client's place for that one command.
import { Buffer } from 'node:buffer';
import { Tokenizer, type TokenizerCallbacks } from 'htmlparser2';
import { rawEni, type EniFields, type RawEni } from './types.js';

/** One page of DescribeNetworkInterfaces. */
export interface EniPage {
  enis: RawEni[];
  nextToken?: string;
  requestId?: string;
}

const ROOT = 'DescribeNetworkInterfacesResponse';

/** The ENI fields kept: elements directly under `networkInterfaceSet/item`, and under its `attachment`. */
const ENI_FIELDS = [
  'networkInterfaceId',
  'subnetId',
  'status',
  'description',
  'requesterId',
  'requesterManaged',
  'interfaceType',
  'privateIpAddress',
] as const;
const ATTACHMENT_FIELDS = ['attachTime', 'status', 'deleteOnTermination'] as const;
type EniField = (typeof ENI_FIELDS)[number];
type AttachmentField = (typeof ATTACHMENT_FIELDS)[number];

const PREFIX = 'DescribeNetworkInterfaces response: ';
const NON_ASCII = /[^\x00-\x7f]/;

function malformed(err: unknown): Error {
  if (err instanceof Error && err.message.startsWith(PREFIX)) return err;
  return new Error(`${PREFIX}${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/**
 * Copies a string out of the parser's input. Slices of the network chunk they came in would, kept in an ENI
 * record, pin the whole chunk (all 1.3 MB of a page) in memory.
 */
function own(s: string): string {
  // A rope of two parts is flattened into a fresh string on first use; slicing it keeps only that copy.
  const rope = `_${s}`;
  rope.charCodeAt(rope.length - 1);
  return rope.slice(1);
}

/** What is being collected: the element's text goes to one field. */
const enum Target {
  None,
  EniField,
  AttachmentField,
  NextToken,
  RequestId,
}

/**
 * Streaming parser of one DescribeNetworkInterfaces response document (EC2 Query protocol, XML). Feed it text
 * with `write`, then `end` returns the page. ENIs are `networkInterfaceSet/item`; the `item`s nested in
 * groupSet, tagSet, privateIpAddressesSet, ipv4PrefixSet, ipv6AddressesSet, ... are counted or skipped by
 * their depth, never taken for ENIs.
 *
 * Built on htmlparser2's XML tokenizer, which reports names and text as positions in the input: tag names are
 * compared in place and only the kept values become strings (tag names are most of what a generic SAX parser
 * allocates here). Values are interned: statuses, subnets, requesters and descriptions repeat across thousands
 * of ENIs.
 */
export class EniPageParser implements TokenizerCallbacks {
  private readonly tokenizer = new Tokenizer({ xmlMode: true, decodeEntities: true }, this);
  /** Input not yet consumed by a callback: positions are absolute, chunks are dropped once passed. */
  private chunks: string[] = [];
  private chunksStart = 0;
  private readonly enis: RawEni[] = [];
  private readonly interned = new Map<string, string>();
  private nextToken: string | undefined;
  private requestId: string | undefined;
  private rootOpened = false;
  private rootClosed = false;
  private depth = 0;
  /** The child of the root being read is networkInterfaceSet. */
  private inSet = false;
  /** The child of the ENI item being read (depth 4), by what it means here. */
  private inAttachment = false;
  private inAddresses = false;
  private inPrefixes = false;
  private eni: EniFields | undefined;
  private target = Target.None;
  private field: EniField | AttachmentField | undefined;
  /** Text of the collected element: decoded parts, then input not yet decoded (see `bytes`). */
  private text = '';
  private raw = '';
  /**
   * Fed bytes rather than text. Bytes are read as Latin-1, one character per byte: the markup is ASCII, no
   * streaming decoder is needed for characters split between chunks, and only the kept values that hold
   * non-ASCII bytes are decoded as UTF-8.
   */
  private bytes: boolean | undefined;

  /** Feeds text, or the raw bytes of a UTF-8 document (not both in one document). */
  write(input: string | Uint8Array): this {
    const bytes = typeof input !== 'string';
    if (this.bytes === undefined) this.bytes = bytes;
    else if (this.bytes !== bytes) throw new TypeError(`${PREFIX}text and bytes written to one document`);
    const chunk = bytes ? Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1') : input;
    if (chunk.length === 0) return this;
    this.chunks.push(chunk);
    try {
      this.tokenizer.write(chunk);
    } catch (err) {
      throw malformed(err);
    }
    return this;
  }

  end(): EniPage {
    try {
      this.tokenizer.end();
    } catch (err) {
      throw malformed(err);
    }
    if (!this.rootOpened) throw new Error(`${PREFIX}no <${ROOT}> document`);
    // The tokenizer is lenient: a body cut short would otherwise read as a shorter page.
    if (!this.rootClosed) throw new Error(`${PREFIX}document ends before </${ROOT}> (truncated body)`);
    const page: EniPage = { enis: this.enis };
    if (this.nextToken) page.nextToken = this.nextToken;
    if (this.requestId) page.requestId = this.requestId;
    return page;
  }

  // --- positions in the input ---------------------------------------------------------------------------

  /** Drops chunks that end before `pos`: callbacks come in input order, so they are never needed again. */
  private release(pos: number): void {
    const chunks = this.chunks;
    if (chunks.length < 2) return;
    let i = 0;
    let start = this.chunksStart;
    while (i < chunks.length - 1 && pos - start >= (chunks[i] as string).length) start += (chunks[i++] as string).length;
    if (i > 0) {
      this.chunks = chunks.slice(i);
      this.chunksStart = start;
    }
  }

  private slice(start: number, end: number): string {
    this.release(start);
    let at = this.chunksStart;
    let out = '';
    for (const chunk of this.chunks) {
      if (end <= at) break;
      const from = Math.max(start - at, 0);
      const to = Math.min(end - at, chunk.length);
      if (to > from) out += chunk.slice(from, to);
      at += chunk.length;
    }
    return out;
  }

  /** Whether the input between `start` and `end` is `name`, without making a string of it. */
  private is(start: number, end: number, name: string): boolean {
    if (end - start !== name.length) return false;
    const first = this.chunks[0] as string;
    const offset = start - this.chunksStart;
    if (end - this.chunksStart <= first.length) return first.startsWith(name, offset);
    return this.slice(start, end) === name;
  }

  private oneOf<T extends string>(start: number, end: number, names: readonly T[]): T | undefined {
    for (const n of names) if (this.is(start, end, n)) return n;
    return undefined;
  }

  // --- tokenizer callbacks ----------------------------------------------------------------------------

  onopentagname(start: number, end: number): void {
    this.release(start);
    const depth = ++this.depth;
    this.target = Target.None;
    switch (depth) {
      case 1:
        // A 2xx with another document (an error envelope, an HTML proxy page) must not read as "no ENIs".
        if (this.rootOpened || !this.is(start, end, ROOT)) {
          const name = this.slice(start, end);
          throw new Error(`${PREFIX}expected <${ROOT}>, got <${name}>${this.rootOpened ? ' after it' : ''}`);
        }
        this.rootOpened = true;
        return;
      case 2:
        this.inSet = this.is(start, end, 'networkInterfaceSet');
        if (!this.inSet) {
          if (this.is(start, end, 'nextToken')) this.collect(Target.NextToken);
          else if (this.is(start, end, 'requestId')) this.collect(Target.RequestId);
        }
        return;
      case 3:
        if (this.inSet && this.is(start, end, 'item')) this.eni = { hasPrimaryIp: false, privateIps: 0, prefixes: 0 };
        return;
      case 4: {
        this.inAttachment = this.inAddresses = this.inPrefixes = false;
        if (!this.eni) return;
        const field = this.oneOf(start, end, ENI_FIELDS);
        if (field) {
          this.field = field;
          this.collect(Target.EniField);
        } else if (this.is(start, end, 'privateIpAddressesSet')) this.inAddresses = true;
        else if (this.is(start, end, 'ipv4PrefixSet')) this.inPrefixes = true;
        else if (this.is(start, end, 'attachment')) this.inAttachment = true;
        return;
      }
      case 5: {
        const eni = this.eni;
        if (!eni) return;
        if (this.inAddresses) {
          if (this.is(start, end, 'item')) eni.privateIps++;
        } else if (this.inPrefixes) {
          if (this.is(start, end, 'item')) eni.prefixes++;
        } else if (this.inAttachment) {
          const field = this.oneOf(start, end, ATTACHMENT_FIELDS);
          if (field) {
            this.field = field;
            this.collect(Target.AttachmentField);
          }
        }
        return;
      }
      default:
        return;
    }
  }

  onopentagend(): void {}

  onselfclosingtag(): void {
    this.closeElement();
  }

  onclosetag(start: number): void {
    this.release(start);
    this.closeElement();
  }

  ontext(start: number, end: number): void {
    if (this.target !== Target.None) this.raw += this.slice(start, end);
  }

  ontextentity(codepoint: number): void {
    if (this.target === Target.None) return;
    // Entities are ASCII: the input before one never ends inside a multi-byte character.
    this.text += this.decoded(this.raw) + String.fromCodePoint(codepoint);
    this.raw = '';
  }

  oncdata(start: number, end: number, endOffset: number): void {
    if (this.target !== Target.None) this.raw += this.slice(start, end - endOffset);
  }

  onattribname(): void {}
  onattribdata(): void {}
  onattribentity(): void {}
  onattribend(): void {}
  oncomment(): void {}
  ondeclaration(): void {}
  onprocessinginstruction(): void {}
  onend(): void {}

  // --- records ------------------------------------------------------------------------------------------

  private collect(target: Target): void {
    this.target = target;
    this.text = '';
    this.raw = '';
  }

  /** Latin-1 read input back to its UTF-8 characters (text input is already decoded). */
  private decoded(s: string): string {
    return this.bytes && NON_ASCII.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s;
  }

  private closeElement(): void {
    const depth = this.depth--;
    if (depth <= 0) throw new Error(`${PREFIX}closing tag without an open element`);
    const target = this.target;
    if (target === Target.None) {
      this.structure(depth);
      return;
    }
    const text = this.raw === '' ? this.text : this.text + this.decoded(this.raw);
    this.target = Target.None;
    this.text = '';
    this.raw = '';
    this.structure(depth);
    if (target === Target.NextToken) this.nextToken = own(text);
    else if (target === Target.RequestId) this.requestId = own(text);
    else if (!this.eni) return;
    else if (target === Target.EniField) this.setEniField(this.eni, this.field as EniField, text);
    else if (target === Target.AttachmentField) this.setAttachmentField(this.eni, this.field as AttachmentField, text);
  }

  /** Leaves an element: ENI boundaries and the containers that give `item` its meaning. */
  private structure(depth: number): void {
    switch (depth) {
      case 1:
        this.rootClosed = true;
        return;
      case 2:
        this.inSet = false;
        return;
      case 3:
        if (this.eni) this.enis.push(rawEni(this.eni));
        this.eni = undefined;
        return;
      case 4:
        this.inAttachment = this.inAddresses = this.inPrefixes = false;
        return;
      default:
        return;
    }
  }

  private intern(s: string): string {
    const known = this.interned.get(s);
    if (known !== undefined) return known;
    const copy = own(s);
    this.interned.set(copy, copy);
    return copy;
  }

  private setEniField(eni: EniFields, field: EniField, text: string): void {
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

  private setAttachmentField(eni: EniFields, field: AttachmentField, text: string): void {
    switch (field) {
      case 'attachTime': {
        const t = Date.parse(text);
        if (Number.isFinite(t)) eni.attachTime = t;
        return;
      }
      case 'status':
        eni.attachmentStatus = this.intern(text);
        return;
      case 'deleteOnTermination':
        eni.deleteOnTermination = text === 'true';
        return;
    }
  }
}

/** Parses a whole DescribeNetworkInterfaces response document. */
export function parseEniPage(xml: string): EniPage {
  return new EniPageParser().write(xml).end();
}

type Body = string | Uint8Array | AsyncIterable<Uint8Array | string>;

/** Bytes parsed between turns of the event loop: about a millisecond of parsing (see SLICE in src/slices.ts). */
const BYTES_PER_TURN = 64 * 1024;

/** Streams a response body through the parser: the page's XML is never held whole. */
export async function parseEniPageBody(body: unknown): Promise<EniPage> {
  const parser = new EniPageParser();
  const b = body as Body;
  if (typeof b === 'string' || b instanceof Uint8Array) return parser.write(b).end();
  if (b == null || typeof (b as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') {
    throw new TypeError(`${PREFIX}body is not a byte stream`);
  }
  let sinceTurn = 0;
  for await (const chunk of b) {
    parser.write(chunk);
    // A body already received is iterated without a turn of the event loop: a 1,000-ENI page (~1.3 MB) would be
    // parsed in one piece (~15 ms), holding /admit. Give the loop a turn every so many bytes.
    sinceTurn += chunk.length;
    if (sinceTurn >= BYTES_PER_TURN) {
      sinceTurn = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return parser.end();
}
