// Pure: raw AWS records in, one immutable per-subnet view out. No I/O, no clock of its own.
import { ACTIVE_RUN_STATES, type RawJobRun, type RawSample } from '../aws/types.js';
import type { ActiveRun, EniView, JobBinding, Owner, Snapshot, SubnetView } from './types.js';

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
}

export function buildSnapshot(raw: RawSample, opts: BuildOptions): Snapshot {
  const glue = raw.glue;
  const { bindingsBySubnet, workersOfJob } = bindJobs(glue);
  const runsBySubnet = groupRunsBySubnet(glue);

  const enisBySubnet = new Map<string, RawSample['enis']>();
  for (const eni of raw.enis) {
    const list = enisBySubnet.get(eni.subnetId) ?? [];
    list.push(eni);
    enisBySubnet.set(eni.subnetId, list);
  }

  const subnets: SubnetView[] = raw.subnets.map((s) => {
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
    const byStatusOwner: Record<string, number> = {};
    const enis: EniView[] = (enisBySubnet.get(s.subnetId) ?? []).map((e) => {
      const owner = ownerOf(e.description, opts.ownerDescriptionPrefixes);
      const addresses = addressesHeld(e);
      used += addresses;
      const key = `${e.status}|${owner}`;
      byStatusOwner[key] = (byStatusOwner[key] ?? 0) + 1;
      const glueInUseEni = owner === 'glue' && e.status === 'in-use';
      if (glueInUseEni) glueInUse += 1;
      const lingering =
        glue !== undefined &&
        glueInUseEni &&
        (activeRuns.length === 0 || (e.attachTime !== undefined && e.attachTime + ATTACH_SLACK_MS < earliestActiveStart));
      return {
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
      };
    });
    enis.sort((a, b) => a.id.localeCompare(b.id));

    const activeWorkers = activeRuns.reduce((n, r) => n + r.workers, 0);
    const view: SubnetView = {
      subnetId: s.subnetId,
      name: opts.names.get(s.subnetId) ?? s.subnetId,
      cidr: s.cidr,
      availabilityZone: s.availabilityZone,
      usable,
      used,
      free: usable - used,
      awsAvailable: s.availableIpAddressCount,
      enis,
      enisByStatusOwner: byStatusOwner,
      totalEnis: enis.length,
      inUse: enis.filter((e) => e.status === 'in-use').length,
      available: enis.filter((e) => e.status === 'available').length,
    };
    if (glue) {
      view.lingering = Math.max(0, glueInUse - activeWorkers);
      view.activeRuns = activeRuns;
      view.runs = runs.map((r) => ({ job: r.jobName, runId: r.id, state: r.state, startedOn: r.startedOn, completedOn: r.completedOn }));
      view.activeWorkers = activeWorkers;
      view.jobs = (bindingsBySubnet.get(s.subnetId) ?? []).sort((a, b) => a.job.localeCompare(b.job));
      view.exhaustionFailures = runs.filter(isExhaustionFailure).map((r) => ({ job: r.jobName, runId: r.id, at: r.startedOn }));
    }
    return view;
  });
  subnets.sort((a, b) => a.name.localeCompare(b.name));

  return {
    takenAt: opts.takenAt,
    completedMono: opts.completedMono,
    durationMs: opts.durationMs,
    glueKnown: glue !== undefined,
    glueError: opts.glueError,
    subnets,
  };
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
