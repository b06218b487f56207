// Reads one sample from AWS: Glue (connections, jobs, recent runs) then EC2 (subnets, ENIs), and turns SDK
// shapes into the plain records of ./types.ts. EC2 is all-or-nothing (a half-read subnet looks emptier than it
// is); Glue is best-effort (an exporter with EC2-only permissions still serves exact IP metrics).
import type { EC2Client, NetworkInterface, Subnet } from '@aws-sdk/client-ec2';
import type { GlueClient, Job, JobRun } from '@aws-sdk/client-glue';
import { createAwsClients, instrumentClient, type AwsRetryStrategy } from './clients.js';
import type { CredentialProvider } from './credentials.js';
import { sendEniPage } from './eni-page-command.js';
import { ec2Sdk, glueSdk } from './sdk.js';
import { ACTIVE_RUN_STATES, rawEni, type RawConnection, type RawEni, type RawJob, type RawJobRun, type RawSample, type RawSubnet } from './types.js';

const { DescribeSubnetsCommand } = ec2Sdk();
const { GetConnectionsCommand, GetJobRunsCommand, GetJobsCommand } = glueSdk();

/** EC2 caps the values of one filter; more subnets than this are read in several filter sequences. */
const MAX_FILTER_VALUES = 200;
const ENI_PAGE_SIZE = 1000;
const GLUE_PAGE_SIZE = 200;
/** GetJobRuns calls in flight at once: enough to keep a sample short, few enough to spare the throttle. */
const RUN_READ_CONCURRENCY = 3;
// Page bounds. A service that keeps answering with a fresh NextToken is broken (or hostile): every call costs
// the account's shared Describe* throttle, so paging stops, and the sample fails, as soon as there are more
// pages than the data could fill. Slack covers short or empty pages (EC2 may filter after paging) and ENIs
// created while paging; a few extra calls cost nothing next to an endless token.
/** Extra DescribeNetworkInterfaces pages allowed beyond what the subnets' addresses can fill. */
const ENI_PAGE_SLACK = 10;
/** Addresses assumed for a subnet whose CIDR cannot be read: the largest subnet AWS allows (/16). */
const LARGEST_SUBNET = 65_536;
/** GetConnections, GetJobs: 20,000 connections or jobs, twenty times Glue's default quota of 1,000. */
const CATALOG_MAX_PAGES = 100;
/** GetJobRuns: one run a minute across the lookback is more than any Glue schedule starts; plus slack. */
const RUNS_PER_MINUTE = 1;
const RUN_PAGE_SLACK = 10;

/** The most pages a sequence may take, and why (for the error that names it). */
export interface PageBound {
  maxPages: number;
  why: string;
}

/** DescribeNetworkInterfaces pages that subnets of these CIDRs could fill: every ENI holds one address at least. */
export function eniPageBound(cidrs: readonly string[], pageSize = ENI_PAGE_SIZE): PageBound {
  let addresses = 0;
  for (const cidr of cidrs) {
    const prefix = Number(cidr.split('/')[1]);
    addresses += Number.isInteger(prefix) && prefix >= 16 && prefix <= 32 ? 2 ** (32 - prefix) : LARGEST_SUBNET;
  }
  const full = Math.ceil(addresses / pageSize);
  return {
    maxPages: full + ENI_PAGE_SLACK,
    why: `${cidrs.length} subnet(s) of ${addresses} addresses fill ${full} page(s) of ${pageSize}, plus ${ENI_PAGE_SLACK} slack`,
  };
}

/** GetJobRuns pages one job can need within the lookback. */
export function runPageBound(lookbackMs: number, pageSize = GLUE_PAGE_SIZE): PageBound {
  const runs = Math.ceil((lookbackMs / 60_000) * RUNS_PER_MINUTE);
  const full = Math.ceil(runs / pageSize);
  return {
    maxPages: full + RUN_PAGE_SLACK,
    why: `${runs} runs (one a minute over the lookback) fill ${full} page(s) of ${pageSize}, plus ${RUN_PAGE_SLACK} slack`,
  };
}

const CATALOG_BOUND: PageBound = {
  maxPages: CATALOG_MAX_PAGES,
  why: `${CATALOG_MAX_PAGES * GLUE_PAGE_SIZE} entries, twenty times Glue's default quota`,
};

/** An EC2 read failed past retries: the sample is unusable and the caller keeps its previous snapshot. */
export class AwsReadError extends Error {
  override readonly name = 'AwsReadError';
  /** Operation that failed, e.g. `DescribeNetworkInterfaces`. */
  readonly api: string;
  /** Error name/code reported by AWS or the SDK, e.g. `RequestLimitExceeded`. */
  readonly code: string;
  /** Configured subnets AWS does not know (InvalidSubnetID.NotFound). */
  readonly subnetIds?: string[];

  constructor(api: string, code: string, message: string, opts: { cause?: unknown; subnetIds?: string[] } = {}) {
    super(`${api} failed: ${code}: ${message}`, { cause: opts.cause });
    this.api = api;
    this.code = code;
    if (opts.subnetIds) this.subnetIds = opts.subnetIds;
  }
}

/** A Glue read failed; caught inside `read`, which then goes on with EC2 only. */
class GlueReadError extends Error {
  constructor(
    readonly api: string,
    readonly detail: string,
  ) {
    super(`${api} failed: ${detail}`);
  }
}

export interface AwsReaderOptions {
  region?: string;
  endpoints?: { ec2?: string; glue?: string };
  maxAttempts?: number;
  /** How far back GetJobRuns is paged (active runs are always kept). */
  runLookbackHours: number;
  now: () => number;
  onRequest?: (api: string) => void;
  onError?: (api: string, err: unknown) => void;
  /** Replaces the SDK's standard retry strategy (tests use one without backoff). */
  retryStrategy?: AwsRetryStrategy;
  /**
   * The target's assumed-role credentials (assumeRoleCredentials); absent, the SDK's default chain. Each read asks
   * for them first, so that a role that cannot be assumed fails the sample as `AssumeRole`, not as the first read.
   */
  credentials?: CredentialProvider;
  ec2?: EC2Client;
  glue?: GlueClient;
}

export interface ReadOptions {
  /** Configured subnets: always read, and an unknown one is an error. */
  subnetIds: string[];
  /** Also watch every subnet named by a Glue connection. */
  discoverConnections: boolean;
  /** Aborts every AWS call of this read, in flight included (the sampler's deadline). */
  signal?: AbortSignal;
}

export type AwsSample = RawSample & { glueError?: { api: string; message: string } };

interface GlueRead {
  connections: RawConnection[];
  jobs: RawJob[];
  runs: RawJobRun[];
}

function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const name = err.name && err.name !== 'Error' ? err.name : typeof code === 'string' ? code : 'Error';
    return { code: name, message: err.message };
  }
  return { code: 'Error', message: String(err) };
}

const ms = (d: Date | undefined): number | undefined => (d instanceof Date ? d.getTime() : undefined);

function uniqueSorted(ids: Iterable<string>): string[] {
  return [...new Set(ids)].sort();
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects on the first failure. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Follows NextToken until the end, at most `bound.maxPages` pages: a token that repeats, or that keeps coming
 * past what the data could fill, is a broken service, not a reason to keep calling.
 */
async function paginate<P extends { NextToken?: string | undefined }>(
  api: string,
  bound: PageBound,
  fetchPage: (token: string | undefined) => Promise<P>,
  // biome-ignore lint/suspicious/noConfusingVoidType: a page callback returns nothing, or false to stop paging
  onPage: (page: P) => boolean | void,
  fail: (api: string, code: string, message: string) => Error,
): Promise<void> {
  const seen = new Set<string>();
  let token: string | undefined;
  for (let pages = 0; pages < bound.maxPages; pages++) {
    const page = await fetchPage(token);
    // onPage returns false to stop early (run lookback reached).
    if (onPage(page) === false) return;
    token = page.NextToken || undefined;
    if (token === undefined) return;
    if (seen.has(token)) throw fail(api, 'PaginationLoop', `NextToken repeated after ${pages + 1} pages`);
    seen.add(token);
  }
  throw fail(api, 'PaginationLimit', `still a NextToken after ${bound.maxPages} pages, the most expected (${bound.why})`);
}

export function toRawEni(ni: NetworkInterface): RawEni {
  const att = ni.Attachment;
  return rawEni({
    id: ni.NetworkInterfaceId,
    subnetId: ni.SubnetId,
    status: ni.Status,
    description: ni.Description,
    requesterId: ni.RequesterId,
    requesterManaged: ni.RequesterManaged,
    interfaceType: ni.InterfaceType,
    hasPrimaryIp: Boolean(ni.PrivateIpAddress),
    privateIps: ni.PrivateIpAddresses?.length ?? 0,
    prefixes: ni.Ipv4Prefixes?.length ?? 0,
    attachTime: ms(att?.AttachTime),
    attachmentStatus: att?.Status,
    deleteOnTermination: att?.DeleteOnTermination,
  });
}

export function toRawSubnet(s: Subnet): RawSubnet {
  const subnet: RawSubnet = {
    subnetId: s.SubnetId ?? '',
    cidr: s.CidrBlock ?? '',
    availabilityZone: s.AvailabilityZone ?? '',
    availableIpAddressCount: s.AvailableIpAddressCount ?? 0,
  };
  if (s.OwnerId) subnet.ownerId = s.OwnerId;
  return subnet;
}

export function toRawJob(j: Job): RawJob {
  const job: RawJob = { name: j.Name ?? '', connections: j.Connections?.Connections ?? [] };
  if (typeof j.NumberOfWorkers === 'number') job.workers = j.NumberOfWorkers;
  return job;
}

export function toRawJobRun(r: JobRun, jobName: string, jobWorkers: number | undefined): RawJobRun {
  const run: RawJobRun = { jobName: r.JobName ?? jobName, id: r.Id ?? '', state: r.JobRunState ?? 'UNKNOWN' };
  const startedOn = ms(r.StartedOn);
  const completedOn = ms(r.CompletedOn);
  if (startedOn !== undefined) run.startedOn = startedOn;
  if (completedOn !== undefined) run.completedOn = completedOn;
  if (r.ErrorMessage) run.errorMessage = r.ErrorMessage;
  const workers = r.NumberOfWorkers ?? jobWorkers;
  if (workers !== undefined) run.workers = workers;
  return run;
}

export class AwsReader {
  private readonly ec2: EC2Client;
  private readonly glue: GlueClient;
  private readonly lookbackMs: number;
  private readonly now: () => number;
  private readonly credentials?: CredentialProvider;

  constructor(opts: AwsReaderOptions) {
    if (!(opts.runLookbackHours > 0)) throw new RangeError('runLookbackHours: expected a positive number');
    this.lookbackMs = opts.runLookbackHours * 3_600_000;
    this.now = opts.now;
    if (opts.credentials) this.credentials = opts.credentials;
    const hooks = { onRequest: opts.onRequest, onError: opts.onError };
    if (opts.ec2 && opts.glue) {
      this.ec2 = opts.ec2;
      this.glue = opts.glue;
    } else {
      const created = createAwsClients({
        region: opts.region,
        endpoints: opts.endpoints,
        maxAttempts: opts.maxAttempts,
        retryStrategy: opts.retryStrategy,
        credentials: opts.credentials,
      });
      this.ec2 = opts.ec2 ?? created.ec2;
      this.glue = opts.glue ?? created.glue;
    }
    // Hooks are attached here (also on injected clients) so that counting never depends on who built them.
    instrumentClient(this.ec2, hooks);
    instrumentClient(this.glue, hooks);
  }

  /** The region the clients use: the configured one, else the SDK's resolution (AWS_REGION, the profile). */
  async region(): Promise<string | undefined> {
    try {
      return await this.ec2.config.region();
    } catch {
      return undefined;
    }
  }

  async read(opts: ReadOptions): Promise<AwsSample> {
    const configured = uniqueSorted(opts.subnetIds);
    const { signal } = opts;
    const credentials = this.credentials;
    if (credentials) await this.ec2Call('AssumeRole', () => credentials());
    let glue: GlueRead | undefined;
    let glueError: AwsSample['glueError'];
    try {
      glue = await this.readGlue(configured, opts.discoverConnections, signal);
    } catch (err) {
      if (!(err instanceof GlueReadError)) throw err;
      glueError = { api: err.api, message: err.detail };
    }

    const discovered = opts.discoverConnections && glue ? glue.connections.flatMap((c) => (c.subnetId ? [c.subnetId] : [])) : [];
    const watched = uniqueSorted([...configured, ...discovered]);

    const sample: AwsSample = { subnets: [], enis: [] };
    if (glue) sample.glue = glue;
    if (glueError) sample.glueError = glueError;
    // No subnet to watch: an unfiltered DescribeNetworkInterfaces would list the whole account.
    if (watched.length === 0) return sample;

    sample.subnets = await this.readSubnets(watched, new Set(configured), signal);
    sample.enis = sample.subnets.length > 0 ? await this.readEnis(sample.subnets, signal) : [];
    return sample;
  }

  private async ec2Call<T>(api: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      // Already named (a pagination bound): wrapping it again would lose its code.
      if (err instanceof AwsReadError) throw err;
      const { code, message } = describeError(err);
      throw new AwsReadError(api, code, message, { cause: err });
    }
  }

  /** A Glue failure is best-effort (GlueReadError), except when the read was aborted: that ends the whole read. */
  private async glueCall<T>(api: string, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (signal?.aborted) {
        if (err instanceof AwsReadError) throw err;
        const { code, message } = describeError(err);
        throw new AwsReadError(api, code, message, { cause: err });
      }
      if (err instanceof GlueReadError) throw err;
      const { code, message } = describeError(err);
      throw new GlueReadError(api, `${code}: ${message}`);
    }
  }

  /**
   * DescribeSubnets with SubnetIds. A configured subnet AWS does not know is an error naming it; a subnet
   * named only by a (stale) Glue connection is dropped and the call repeated without it.
   */
  private async readSubnets(watched: string[], configured: Set<string>, signal: AbortSignal | undefined): Promise<RawSubnet[]> {
    let ids = watched;
    for (;;) {
      try {
        const out: RawSubnet[] = [];
        await paginate(
          'DescribeSubnets',
          // Every page but the last carries one subnet at least.
          { maxPages: ids.length + 1, why: `${ids.length} subnet id(s) asked for` },
          (token) => this.ec2.send(new DescribeSubnetsCommand({ SubnetIds: ids, NextToken: token }), { abortSignal: signal }),
          (page) => {
            for (const s of page.Subnets ?? []) out.push(toRawSubnet(s));
          },
          (api, code, message) => new AwsReadError(api, code, message),
        );
        return out.sort((a, b) => a.subnetId.localeCompare(b.subnetId));
      } catch (err) {
        if (err instanceof AwsReadError) throw err;
        const { code, message } = describeError(err);
        if (signal?.aborted) throw new AwsReadError('DescribeSubnets', code, message, { cause: err });
        if (code === 'InvalidSubnetID.NotFound' || code === 'InvalidSubnetID.Malformed') {
          const named = uniqueSorted(message.match(/subnet-[0-9a-zA-Z]+/g) ?? []).filter((id) => ids.includes(id));
          const unknownConfigured = named.filter((id) => configured.has(id));
          if (named.length > 0 && unknownConfigured.length === 0) {
            ids = ids.filter((id) => !named.includes(id));
            if (ids.length === 0) return [];
            continue;
          }
          const culprits = unknownConfigured.length > 0 ? unknownConfigured : ids.filter((id) => configured.has(id));
          throw new AwsReadError('DescribeSubnets', code, `unknown subnet ${culprits.join(', ')}: ${message}`, {
            cause: err,
            subnetIds: culprits,
          });
        }
        throw new AwsReadError('DescribeSubnets', code, message, { cause: err });
      }
    }
  }

  /** One DescribeNetworkInterfaces sequence per 200 subnets (one subnet-id filter), 1000 per page. */
  private async readEnis(subnets: RawSubnet[], signal: AbortSignal | undefined): Promise<RawEni[]> {
    const byId = new Map<string, RawEni>();
    for (const group of chunk(subnets, MAX_FILTER_VALUES)) {
      const ids = group.map((s) => s.subnetId);
      await this.ec2Call('DescribeNetworkInterfaces', () =>
        paginate(
          'DescribeNetworkInterfaces',
          eniPageBound(group.map((s) => s.cidr)),
          async (token) => {
            // Read straight into RawEni records: the SDK's object tree of 1,000 ENIs is never built.
            const page = await sendEniPage(
              this.ec2,
              {
                Filters: [{ Name: 'subnet-id', Values: ids }],
                // Accounts may hide AWS-managed resources from Describe calls; their IPs are used all the same.
                IncludeManagedResources: true,
                MaxResults: ENI_PAGE_SIZE,
                NextToken: token,
              },
              signal,
            );
            return { NextToken: page.nextToken, enis: page.enis };
          },
          (page) => {
            // Keyed by id: an ENI that moves between pages while they are read is counted once.
            for (const eni of page.enis) if (eni.id) byId.set(eni.id, eni);
          },
          (api, code, message) => new AwsReadError(api, code, message),
        ),
      );
    }
    return [...byId.values()];
  }

  private async readGlue(configured: string[], discover: boolean, signal: AbortSignal | undefined): Promise<GlueRead> {
    const connections: RawConnection[] = [];
    await this.glueCall('GetConnections', signal, () =>
      paginate(
        'GetConnections',
        CATALOG_BOUND,
        // HidePassword: connection properties may carry credentials that the exporter must never hold.
        (token) =>
          this.glue.send(new GetConnectionsCommand({ HidePassword: true, MaxResults: GLUE_PAGE_SIZE, NextToken: token }), { abortSignal: signal }),
        (page) => {
          for (const c of page.ConnectionList ?? []) {
            const conn: RawConnection = { name: c.Name ?? '' };
            const subnetId = c.PhysicalConnectionRequirements?.SubnetId;
            if (subnetId) conn.subnetId = subnetId;
            connections.push(conn);
          }
        },
        (api, code, message) => new GlueReadError(api, `${code}: ${message}`),
      ),
    );

    const jobs: RawJob[] = [];
    await this.glueCall('GetJobs', signal, () =>
      paginate(
        'GetJobs',
        CATALOG_BOUND,
        (token) => this.glue.send(new GetJobsCommand({ MaxResults: GLUE_PAGE_SIZE, NextToken: token }), { abortSignal: signal }),
        (page) => {
          for (const j of page.Jobs ?? []) jobs.push(toRawJob(j));
        },
        (api, code, message) => new GlueReadError(api, `${code}: ${message}`),
      ),
    );

    const watched = new Set(configured);
    if (discover) for (const c of connections) if (c.subnetId) watched.add(c.subnetId);
    const subnetOf = new Map(connections.map((c) => [c.name, c.subnetId]));
    const boundJobs = jobs.filter((j) =>
      j.connections.some((c) => {
        const subnet = subnetOf.get(c);
        return subnet !== undefined && watched.has(subnet);
      }),
    );

    const cutoff = this.now() - this.lookbackMs;
    const perJob = await mapLimit(boundJobs, RUN_READ_CONCURRENCY, (job) => this.readRuns(job, cutoff, signal));
    return { connections, jobs, runs: perJob.flat() };
  }

  /**
   * GetJobRuns comes newest first (by StartedOn): paging stops after the first page that reaches a run started
   * before the cutoff. Kept: runs still active whatever their age, and runs started or completed within the
   * lookback (a long run started before the cutoff may have ended inside it).
   */
  private async readRuns(job: RawJob, cutoff: number, signal: AbortSignal | undefined): Promise<RawJobRun[]> {
    const runs: RawJobRun[] = [];
    await this.glueCall('GetJobRuns', signal, () =>
      paginate(
        'GetJobRuns',
        runPageBound(this.lookbackMs),
        (token) =>
          this.glue.send(new GetJobRunsCommand({ JobName: job.name, MaxResults: GLUE_PAGE_SIZE, NextToken: token }), { abortSignal: signal }),
        (page) => {
          let reachedCutoff = false;
          for (const r of page.JobRuns ?? []) {
            const run = toRawJobRun(r, job.name, job.workers);
            if (run.startedOn !== undefined && run.startedOn < cutoff) reachedCutoff = true;
            const lastSeen = run.completedOn ?? run.startedOn;
            if (ACTIVE_RUN_STATES.has(run.state) || lastSeen === undefined || lastSeen >= cutoff) runs.push(run);
          }
          return !reachedCutoff;
        },
        (api, code, message) => new GlueReadError(api, `${code}: ${message}`),
      ),
    );
    return runs;
  }
}
