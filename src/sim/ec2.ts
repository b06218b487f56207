// EC2 Query protocol (form-encoded Action=...&Version=2016-11-15, XML answers) over the simulated world.
// Element names follow the EC2 API (networkInterfaceSet/item, privateIpAddressesSet, attachment, ...).
import { type NetworkInterface, type Subnet, type World, WorldError } from './model.js';
import { QueryError, type WireResponse, xml, xmlFragment } from './wire.js';

export const EC2_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export class Ec2Error extends QueryError {}

export function ec2ErrorResponse(err: Ec2Error, requestId: string): WireResponse {
  return {
    status: err.status,
    headers: { 'content-type': 'text/xml;charset=UTF-8' },
    body: xml({ Response: { Errors: { Error: { Code: err.code, Message: err.message } }, RequestID: requestId } }),
  };
}

function ok(action: string, requestId: string, content: Record<string, unknown>): WireResponse {
  return {
    status: 200,
    headers: { 'content-type': 'text/xml;charset=UTF-8' },
    body: xml({ [`${action}Response`]: { '@_xmlns': EC2_NAMESPACE, requestId, ...content } }),
  };
}

/** `Foo.1`, `Foo.2`, ... in index order. */
function indexed(params: URLSearchParams, prefix: string): string[] {
  const out: [number, string][] = [];
  for (const [k, v] of params) {
    const m = new RegExp(`^${prefix.replace('.', '\\.')}\\.(\\d+)$`).exec(k);
    if (m) out.push([Number(m[1]), v]);
  }
  return out.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/** `Filter.N.Name` / `Filter.N.Value.M` → [{name, values}]. */
function filters(params: URLSearchParams): { name: string; values: string[] }[] {
  const byIndex = new Map<number, { name?: string; values: [number, string][] }>();
  for (const [k, v] of params) {
    const m = /^Filter\.(\d+)\.(Name|Value\.(\d+))$/.exec(k);
    if (!m) continue;
    const f = byIndex.get(Number(m[1])) ?? { values: [] };
    if (m[2] === 'Name') f.name = v;
    else f.values.push([Number(m[3]), v]);
    byIndex.set(Number(m[1]), f);
  }
  return [...byIndex.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([i, f]) => {
      if (f.name === undefined) throw new Ec2Error('MissingParameter', `The request must contain the parameter Filter.${i}.Name`);
      return { name: f.name, values: f.values.sort((a, b) => a[0] - b[0]).map(([, v]) => v) };
    });
}

/** EC2 filter values take `*` (any run) and `?` (one character). */
function wildcard(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}

function matchAny(res: RegExp[], candidates: (string | undefined)[]): boolean {
  return candidates.some((c) => c !== undefined && res.some((re) => re.test(c)));
}

const eniFilters: Record<string, (e: NetworkInterface) => (string | undefined)[]> = {
  'subnet-id': (e) => [e.SubnetId],
  status: (e) => [e.Status],
  description: (e) => [e.Description],
  'requester-managed': (e) => [String(e.RequesterManaged)],
  'requester-id': (e) => [e.RequesterId],
  'network-interface-id': (e) => [e.NetworkInterfaceId],
  'vpc-id': (e) => [e.VpcId],
  'availability-zone': (e) => [e.AvailabilityZone],
  'interface-type': (e) => [e.InterfaceType],
  'owner-id': (e) => [e.OwnerId],
  'attachment.status': (e) => [e.Attachment?.Status],
  'attachment.attachment-id': (e) => [e.Attachment?.AttachmentId],
  'attachment.instance-owner-id': (e) => [e.Attachment?.InstanceOwnerId],
  'attachment.instance-id': (e) => [e.Attachment?.InstanceId],
  'private-ip-address': (e) => e.PrivateIpAddresses.map((p) => p.PrivateIpAddress),
  'addresses.private-ip-address': (e) => e.PrivateIpAddresses.map((p) => p.PrivateIpAddress),
  'group-id': (e) => e.Groups.map((g) => g.GroupId),
};

const subnetFilters: Record<string, (s: Subnet) => (string | undefined)[]> = {
  'subnet-id': (s) => [s.SubnetId],
  'vpc-id': (s) => [s.VpcId],
  'availability-zone': (s) => [s.AvailabilityZone],
  'cidr-block': (s) => [s.CidrBlock],
  cidrBlock: (s) => [s.CidrBlock],
  cidr: (s) => [s.CidrBlock],
  state: (s) => [s.State],
  'owner-id': (s) => [s.OwnerId],
  'available-ip-address-count': (s) => [String(s.AvailableIpAddressCount)],
};

function applyFilters<T>(
  items: readonly T[],
  fs: { name: string; values: string[] }[],
  table: Record<string, (x: T) => (string | undefined)[]>,
): readonly T[] {
  for (const f of fs) {
    const get = table[f.name];
    if (!get) throw new Ec2Error('InvalidParameterValue', `The filter '${f.name}' is invalid`);
    if (f.values.length === 0) throw new Ec2Error('InvalidParameterValue', `The filter '${f.name}' requires at least one value`);
    // Compiled once per filter, not once per item: a page of a large subnet filters every ENI.
    const res = f.values.map(wildcard);
    items = items.filter((x) => matchAny(res, get(x)));
  }
  return items;
}

/** The ENIs a sequence of pages selects, by world: reused while no ENI changes (`enisVersion`). */
const selections = new WeakMap<World, { version: number; byQuery: Map<string, readonly NetworkInterface[]> }>();
/** Distinct selections kept per version: a sample pages a few (one per subnet filter) at a time. */
const MAX_SELECTIONS = 16;

/**
 * The world's ENIs with `ids` (all when empty) that pass `fs`, sorted by id. Filtering and sorting a large world
 * costs far more than a page: every page of a sequence asks for the same list, so it is computed once per change
 * of the world (any ENI created, attached, detached or deleted) and per query.
 */
function selectedEnis(world: World, ids: string[], fs: { name: string; values: string[] }[]): readonly NetworkInterface[] {
  const version = world.enisVersion();
  let cache = selections.get(world);
  if (cache?.version !== version) {
    cache = { version, byQuery: new Map() };
    selections.set(world, cache);
  }
  const key = JSON.stringify([ids, fs]);
  let items = cache.byQuery.get(key);
  if (items === undefined) {
    let all = world.sortedEnis();
    if (ids.length > 0) {
      const wanted = new Set(ids);
      all = all.filter((e) => wanted.has(e.NetworkInterfaceId));
    }
    items = applyFilters(all, fs, eniFilters);
    if (cache.byQuery.size >= MAX_SELECTIONS) cache.byQuery.clear();
    cache.byQuery.set(key, items);
  }
  return items;
}

function maxResults(params: URLSearchParams): number | undefined {
  const raw = params.get('MaxResults');
  if (raw === null) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 5 || n > 1000) {
    throw new Ec2Error('InvalidParameterValue', `Value ( ${raw} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`);
  }
  return n;
}

/**
 * Tokens are the last id returned: items created or deleted between pages neither repeat nor shift the rest.
 * `items` must be sorted by id.
 */
function paginate<T>(items: readonly T[], id: (x: T) => string, params: URLSearchParams): { page: readonly T[]; next?: string } {
  const max = maxResults(params);
  const token = params.get('NextToken');
  let rest = items;
  if (token !== null && token !== '') {
    let after: string;
    try {
      const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
      if (typeof parsed.after !== 'string') throw new Error('no cursor');
      after = parsed.after;
    } catch {
      throw new Ec2Error('InvalidPaginationToken', `The pagination token '${token}' is invalid.`);
    }
    // Items are sorted by id (unique): the rest starts at the first id past the cursor.
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (id(items[mid]) > after) hi = mid;
      else lo = mid + 1;
    }
    rest = items.slice(lo);
  }
  if (max === undefined || rest.length <= max) return { page: rest };
  const page = rest.slice(0, max);
  return { page, next: Buffer.from(JSON.stringify({ after: id(page[page.length - 1]) })).toString('base64url') };
}

const iso = (t: number) => new Date(t).toISOString();

function eniXml(e: NetworkInterface): Record<string, unknown> {
  const a = e.Attachment;
  return {
    networkInterfaceId: e.NetworkInterfaceId,
    subnetId: e.SubnetId,
    vpcId: e.VpcId,
    availabilityZone: e.AvailabilityZone,
    description: e.Description,
    ownerId: e.OwnerId,
    ...(e.RequesterId !== undefined ? { requesterId: e.RequesterId } : {}),
    requesterManaged: e.RequesterManaged,
    status: e.Status,
    macAddress: e.MacAddress,
    privateIpAddress: e.PrivateIpAddress,
    privateDnsName: e.PrivateDnsName,
    sourceDestCheck: e.SourceDestCheck,
    groupSet: { item: e.Groups.map((g) => ({ groupId: g.GroupId, groupName: g.GroupName })) },
    ...(a
      ? {
          attachment: {
            attachmentId: a.AttachmentId,
            ...(a.InstanceId !== undefined ? { instanceId: a.InstanceId } : {}),
            instanceOwnerId: a.InstanceOwnerId,
            deviceIndex: a.DeviceIndex,
            networkCardIndex: a.NetworkCardIndex,
            status: a.Status,
            attachTime: iso(a.AttachTime),
            deleteOnTermination: a.DeleteOnTermination,
          },
        }
      : {}),
    tagSet: '',
    privateIpAddressesSet: {
      item: e.PrivateIpAddresses.map((p) => ({ privateIpAddress: p.PrivateIpAddress, privateDnsName: p.PrivateDnsName, primary: p.Primary })),
    },
    ipv6AddressesSet: '',
    interfaceType: e.InterfaceType,
  };
}

/**
 * Stands for a page's items in the document the builder renders around them: no ENI field, request id or token
 * holds it, and escaping leaves it as it is.
 */
const ITEMS_MARKER = '__glue_eni_sim_items__';

/** An ENI's rendered `<item>`, and the fields it was rendered from that are reassigned after the ENI is created. */
interface RenderedEni {
  status: NetworkInterface['Status'];
  attachment: NetworkInterface['Attachment'];
  xml: string;
}
const renderedEnis = new WeakMap<NetworkInterface, RenderedEni>();

/**
 * `<item>…</item>` of one ENI, as the builder renders it within networkInterfaceSet (no indentation: the text of an
 * element does not depend on where it is). A sample pages through every ENI of the world while few of them change:
 * the text is rendered once and reused until the ENI's status or attachment is reassigned (the world changes no
 * other field of an ENI after creating it; a new attachment is a new object).
 */
function eniItemXml(e: NetworkInterface): string {
  const r = renderedEnis.get(e);
  if (r !== undefined && r.status === e.Status && r.attachment === e.Attachment) return r.xml;
  // Reading a character flattens the builder's rope of small pieces into one string (it is kept as long as the ENI).
  const xml = xmlFragment({ item: eniXml(e) });
  xml.charCodeAt(0);
  renderedEnis.set(e, { status: e.Status, attachment: e.Attachment, xml });
  return xml;
}

function subnetXml(s: Subnet): Record<string, unknown> {
  return {
    subnetId: s.SubnetId,
    subnetArn: s.SubnetArn,
    state: s.State,
    ownerId: s.OwnerId,
    vpcId: s.VpcId,
    cidrBlock: s.CidrBlock,
    ipv6CidrBlockAssociationSet: '',
    availableIpAddressCount: s.AvailableIpAddressCount,
    availabilityZone: s.AvailabilityZone,
    defaultForAz: false,
    mapPublicIpOnLaunch: false,
    assignIpv6AddressOnCreation: false,
    tagSet: s.name ? { item: [{ key: 'Name', value: s.name }] } : '',
  };
}

/** Answer one EC2 Query request. Throws Ec2Error for client errors (the caller renders them). */
export function handleEc2(world: World, action: string, params: URLSearchParams, requestId: string): WireResponse {
  switch (action) {
    case 'DescribeNetworkInterfaces': {
      const ids = indexed(params, 'NetworkInterfaceId');
      if (ids.length > 0 && params.has('MaxResults')) {
        throw new Ec2Error('InvalidParameterCombination', 'The parameter NetworkInterfaceIds cannot be used with the parameter MaxResults');
      }
      if (ids.length > 0) {
        const missing = ids.filter((id) => !world.networkInterface(id));
        if (missing.length > 0) {
          throw new Ec2Error(
            'InvalidNetworkInterfaceID.NotFound',
            `The networkInterface ID${missing.length > 1 ? 's' : ''} '${missing.join(', ')}' do${missing.length > 1 ? '' : 'es'} not exist`,
          );
        }
      }
      const fs = filters(params);
      const items = selectedEnis(world, ids, fs);
      const { page, next } = paginate(items, (e) => e.NetworkInterfaceId, params);
      if (page.length === 0) return ok(action, requestId, { networkInterfaceSet: '', ...(next ? { nextToken: next } : {}) });
      // The builder's document around a marker, the marker then replaced by the items rendered (or reused) one by one.
      const res = ok(action, requestId, { networkInterfaceSet: ITEMS_MARKER, ...(next ? { nextToken: next } : {}) });
      const at = res.body.indexOf(ITEMS_MARKER);
      res.body = res.body.slice(0, at) + page.map(eniItemXml).join('') + res.body.slice(at + ITEMS_MARKER.length);
      return res;
    }
    case 'DescribeSubnets': {
      const ids = indexed(params, 'SubnetId');
      if (ids.length > 0 && params.has('MaxResults')) {
        throw new Ec2Error('InvalidParameterCombination', 'The parameter SubnetIds cannot be used with the parameter MaxResults');
      }
      let items = world.subnets().sort((a, b) => (a.SubnetId < b.SubnetId ? -1 : 1));
      if (ids.length > 0) {
        const missing = ids.filter((id) => !world.subnet(id));
        if (missing.length > 0) throw new Ec2Error('InvalidSubnetID.NotFound', `The subnet ID '${missing.join(', ')}' does not exist`);
        const wanted = new Set(ids);
        items = items.filter((s) => wanted.has(s.SubnetId));
      }
      const { page, next } = paginate(applyFilters(items, filters(params), subnetFilters), (s) => s.SubnetId, params);
      return ok(action, requestId, { subnetSet: page.length ? { item: page.map(subnetXml) } : '', ...(next ? { nextToken: next } : {}) });
    }
    case 'DeleteNetworkInterface': {
      const id = params.get('NetworkInterfaceId');
      if (!id) throw new Ec2Error('MissingParameter', 'The request must contain the parameter NetworkInterfaceId');
      if (params.get('DryRun') === 'true') throw new Ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
      try {
        world.deleteNetworkInterface(id);
      } catch (err) {
        if (err instanceof WorldError && err.kind === 'not-found') throw new Ec2Error('InvalidNetworkInterfaceID.NotFound', err.message);
        if (err instanceof WorldError && err.kind === 'in-use') throw new Ec2Error('InvalidParameterValue', err.message);
        throw err;
      }
      return ok(action, requestId, { return: true });
    }
    default:
      throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`);
  }
}
