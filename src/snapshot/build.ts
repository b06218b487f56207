// Pure: raw AWS records in, one immutable per-subnet view out. No I/O, no clock of its own.
import { ACTIVE_RUN_STATES, type RawJobRun, type RawSample } from '../aws/types.js';
import { runToEnd, SLICE, type Steps } from '../slices.js';
import type { ActiveRun, EniView, JobBinding, Owner, Snapshot, SubnetView, TargetRef } from './types.js';

/** The Glue error a launch gets when the subnet is full (matched on this fragment). */
export const EXHAUSTION_FRAGMENT = 'does not have enough free addresses';

/** An ENI attaches a few seconds after StartedOn; clocks differ a little. */
const ATTACH_SLACK_MS = 60_000;

/** AWS reserves the first four and the last address of every subnet. */
export function usableAddresses(cidr: string): number {
  const prefix = Number(cidr.split('/')[1]);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new Error(`bad CIDR ${cidr}`);
  return Math.max(0, 2 ** (32 - prefix) - 5);
}

/** Addresses an ENI holds: every private IPv4 plus 16 per delegated /28 prefix. */
export function addressesHeld(eni: { privateIpCount: number; ipv4PrefixCount: number }): number {
  return eni.privateIpCount + 16 * eni.ipv4PrefixCount;
}

export function ownerOf(description: string, prefixes: readonly string[]): Owner {
  return prefixes.some((p) => description.startsWith(p)) ? 'glue' : 'other';
}

type GlueRecords = RawSample['glue'];

/** Which subnet each job lands in: the subnet of its first connection that names one (Glue networks through it). */
export function bindJobs(glue: GlueRecords): {
  subnetOfJob: Map<string, string>;
  bindingsBySubnet: Map<string, JobBinding[]>;
  workersOfJob: Map<string, number | undefined>;
} {
  const subnetOfConnection = new Map<string, string>();
  for (const c of glue?.connections ?? []) if (c.subnetId) subnetOfConnection.set(c.name, c.subnetId);
  const subnetOfJob = new Map<string, string>();
  const bindingsBySubnet = new Map<string, JobBinding[]>();
  const workersOfJob = new Map<string, number | undefined>();
  for (const job of glue?.jobs ?? []) {
    workersOfJob.set(job.name, job.workers);
    const connection = job.connections.find((c) => subnetOfConnection.has(c));
    if (!connection) continue;
    const subnetId = subnetOfConnection.get(connection)!;
    subnetOfJob.set(job.name, subnetId);
    const list = bindingsBySubnet.get(subnetId) ?? [];
    list.push({ job: job.name, connection, workers: job.workers });
    bindingsBySubnet.set(subnetId, list);
  }
  return { subnetOfJob, bindingsBySubnet, workersOfJob };
}

/** Job runs grouped by the subnet their job lands in. */
export function groupRunsBySubnet(glue: GlueRecords): Map<string, RawJobRun[]> {
  const { subnetOfJob } = bindJobs(glue);
  const out = new Map<string, RawJobRun[]>();
  for (const run of glue?.runs ?? []) {
    const subnetId = subnetOfJob.get(run.jobName);
    if (!subnetId) continue;
    const list = out.get(subnetId) ?? [];
    list.push(run);
    out.set(subnetId, list);
  }
  return out;
}

export function isExhaustionFailure(run: RawJobRun): boolean {
  return run.state === 'FAILED' && (run.errorMessage ?? '').includes(EXHAUSTION_FRAGMENT);
}

export interface BuildOptions {
  /** Configured human names by subnet id. */
  names: ReadonlyMap<string, string>;
  ownerDescriptionPrefixes: readonly string[];
  takenAt: number;
  completedMono: number;
  durationMs: number;
  /** From the lifecycle tracker: first time each ENI was seen `available`. */
  availableSince?: (eniId: string) => number | undefined;
  glueError?: string;
  /**
   * The target the sample read. An empty account (the single-account form without `account`) is each subnet's
   * OwnerId as DescribeSubnets gives it; absent, the account is the OwnerId and the region ''.
   */
  target?: TargetRef;
}

export function buildSnapshot(raw: RawSample, opts: BuildOptions): Snapshot {
  return runToEnd(buildSnapshotSteps(raw, opts));
}

/** ENI ids in the order the snapshot lists them: the default collation, as String#localeCompare, made once. */
const byId = new Intl.Collator().compare;

/**
 * Sort as `enis.sort((a, b) => byId(a.id, b.id))` does, with the collation's compares in slices: ids sorted by
 * code unit are nearly always in collation order too (ENI ids are lowercase hex), which n - 1 compares confirm;
 * if not, the collation sort of the original order, as before. (A collation sort of 50,000 ids is ~50 ms in
 * one piece.)
 */
function* sortById(enis: EniView[]): Steps<void> {
  const original = enis.slice();
  enis.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (let i = 1; i < enis.length; i++) {
    if (i % SLICE === 0) yield;
    // Strictly increasing under the collation: the one order its sort gives, whatever the input order.
    if (byId(enis[i - 1].id, enis[i].id) >= 0) {
      original.sort((a, b) => byId(a.id, b.id));
      for (let j = 0; j < original.length; j++) enis[j] = original[j];
      return;
    }
  }
}

/** `buildSnapshot` in slices of ENIs (see slices.ts): the same snapshot, built between other work. */
export function* buildSnapshotSteps(raw: RawSample, opts: BuildOptions): Steps<Snapshot> {
  const glue = raw.glue;
  const { bindingsBySubnet, workersOfJob } = bindJobs(glue);
  const runsBySubnet = groupRunsBySubnet(glue);

  const enisBySubnet = new Map<string, RawSample['enis']>();
  let n = 0;
  for (const eni of raw.enis) {
    if (++n % SLICE === 0) yield;
    const list = enisBySubnet.get(eni.subnetId);
    if (list) list.push(eni);
    else enisBySubnet.set(eni.subnetId, [eni]);
  }

  const subnets: SubnetView[] = [];
  for (const s of raw.subnets) {
    const usable = usableAddresses(s.cidr);
    const runs = runsBySubnet.get(s.subnetId) ?? [];
    const activeRuns: ActiveRun[] = runs
      .filter((r) => ACTIVE_RUN_STATES.has(r.state))
      .map((r) => ({
        job: r.jobName,
        runId: r.id,
        state: r.state,
        startedOn: r.startedOn,
        workers: r.workers ?? workersOfJob.get(r.jobName) ?? 0,
      }));
    // An ENI attached before every running run started belongs to none of them.
    const earliestActiveStart = activeRuns.reduce((min, r) => Math.min(min, r.startedOn ?? Number.NEGATIVE_INFINITY), Number.POSITIVE_INFINITY);

    let used = 0;
    let glueInUse = 0;
    let inUse = 0;
    let available = 0;
    // Counted by status, then owner: one lookup per ENI instead of building a `status|owner` key for each.
    const counts = new Map<string, { glue: number; other: number }>();
    const firstMet: [string, Owner][] = [];
    const enis: EniView[] = [];
    for (const e of enisBySubnet.get(s.subnetId) ?? []) {
      if (++n % SLICE === 0) yield;
      const owner = ownerOf(e.description, opts.ownerDescriptionPrefixes);
      const addresses = addressesHeld(e);
      used += addresses;
      let c = counts.get(e.status);
      if (!c) counts.set(e.status, (c = { glue: 0, other: 0 }));
      if (c[owner]++ === 0) firstMet.push([e.status, owner]);
      if (e.status === 'in-use') inUse += 1;
      else if (e.status === 'available') available += 1;
      const glueInUseEni = owner === 'glue' && e.status === 'in-use';
      if (glueInUseEni) glueInUse += 1;
      const lingering =
        glue !== undefined &&
        glueInUseEni &&
        (activeRuns.length === 0 || (e.attachTime !== undefined && e.attachTime + ATTACH_SLACK_MS < earliestActiveStart));
      enis.push({
        id: e.id,
        status: e.status,
        owner,
        addresses,
        description: e.description,
        requesterId: e.requesterId,
        attachTime: e.attachTime,
        availableSince: e.status === 'available' ? opts.availableSince?.(e.id) : undefined,
        // Release prediction times the rest of a lingering ENI's linger from its run's end.
        jobEndedAt: lingering ? owningRun(e.attachTime, runs)?.completedOn : undefined,
        lingering,
      });
    }
    yield* sortById(enis);
    const byStatusOwner: Record<string, number> = {};
    // Keys in the order they were first met, as when they were counted in place.
    for (const [status, owner] of firstMet) byStatusOwner[`${status}|${owner}`] = counts.get(status)![owner];

    const activeWorkers = activeRuns.reduce((n, r) => n + r.workers, 0);
    const view: SubnetView = {
      subnetId: s.subnetId,
      name: opts.names.get(s.subnetId) ?? s.subnetId,
      account: opts.target?.account || (s.ownerId ?? ''),
      region: opts.target?.region ?? '',
      cidr: s.cidr,
      availabilityZone: s.availabilityZone,
      usable,
      used,
      free: usable - used,
      awsAvailable: s.availableIpAddressCount,
      enis,
      enisByStatusOwner: byStatusOwner,
      totalEnis: enis.length,
      inUse,
      available,
    };
    if (glue) {
      view.lingering = Math.max(0, glueInUse - activeWorkers);
      view.activeRuns = activeRuns;
      view.runs = runs.map((r) => ({ job: r.jobName, runId: r.id, state: r.state, startedOn: r.startedOn, completedOn: r.completedOn }));
      view.activeWorkers = activeWorkers;
      view.jobs = (bindingsBySubnet.get(s.subnetId) ?? []).sort((a, b) => a.job.localeCompare(b.job));
      view.exhaustionFailures = runs.filter(isExhaustionFailure).map((r) => ({ job: r.jobName, runId: r.id, at: r.startedOn }));
    }
    subnets.push(view);
  }
  subnets.sort((a, b) => a.name.localeCompare(b.name));

  const snapshot: Snapshot = {
    takenAt: opts.takenAt,
    completedMono: opts.completedMono,
    durationMs: opts.durationMs,
    glueKnown: glue !== undefined,
    glueError: opts.glueError,
    subnets,
  };
  if (opts.target) snapshot.target = { account: opts.target.account || (raw.subnets[0]?.ownerId ?? ''), region: opts.target.region };
  return snapshot;
}

export interface RunSpan {
  startedOn?: number;
  completedOn?: number;
}

/** A run had started (within the slack) and not yet ended at an ENI's attach time. */
export function runOpenAt(attachTime: number, r: RunSpan): boolean {
  if (r.startedOn === undefined || r.startedOn > attachTime + ATTACH_SLACK_MS) return false;
  return r.completedOn === undefined || r.completedOn >= attachTime;
}

/** The run (of the ENI's subnet) an ENI most likely belonged to: the latest one started before it attached. */
export function owningRun<R extends RunSpan>(attachTime: number | undefined, runs: readonly R[]): R | undefined {
  if (attachTime === undefined) return undefined;
  let best: R | undefined;
  for (const r of runs) {
    if (!runOpenAt(attachTime, r)) continue;
    if (!best || (best.startedOn ?? 0) < r.startedOn!) best = r;
  }
  return best;
}
