// Test worlds: a subnet in a given state without sampling AWS. The state is written as the raw records a sample
// would read and goes through the real buildSnapshot, so a test's subnet view is derived exactly as in production.
import type { RawEni, RawSample } from '../../src/aws/types.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import type { EniView, JobBinding, Snapshot, SubnetView } from '../../src/snapshot/types.js';

const GLUE_DESCRIPTION = 'Attached to Glue using role x';
const OWNER_PREFIXES = ['Attached to Glue using role'];
/** The job whose run holds the busy workers (`inUse − lingering`), when the spec has any. */
const RUNNING_JOB = 'running-job';

export interface SubnetSpec {
  subnetId: string;
  name?: string;
  /** CIDR prefix length; usable = 2^(32 − prefix) − 5. */
  prefix?: number;
  /** Glue ENIs in-use (attached at `attachTime`). */
  inUse?: number;
  available?: number;
  /** Of the in-use Glue ENIs, how many do no work (the rest belong to a running job run); undefined = Glue data unknown. */
  lingering?: number;
  /** Addresses held by non-Glue ENIs (one ENI each). */
  other?: number;
  attachTime?: number;
  /** Extra ENIs (e.g. attached after a reservation). */
  extraEnis?: EniView[];
  /** Jobs bound to the subnet through their connection (needs Glue data: `lingering`). */
  jobs?: JobBinding[];
}

/** One ENI as a snapshot shows it, one address. */
export function eni(id: string, status: string, attachTime?: number, owner: 'glue' | 'other' = 'glue'): EniView {
  const e: EniView = { id, status, owner, addresses: 1, description: owner === 'glue' ? GLUE_DESCRIPTION : 'other', lingering: false };
  if (attachTime !== undefined) e.attachTime = attachTime;
  return e;
}

function rawEniOf(e: EniView, subnetId: string): RawEni {
  const raw: RawEni = {
    id: e.id,
    subnetId,
    status: e.status,
    description: e.description,
    requesterManaged: false,
    privateIpCount: e.addresses,
    ipv4PrefixCount: 0,
  };
  if (e.attachTime !== undefined) raw.attachTime = e.attachTime;
  return raw;
}

/** What a sample of the subnet in the state `spec` describes would read from EC2 and Glue. */
export function rawSampleOf(spec: SubnetSpec): RawSample {
  const prefix = spec.prefix ?? 26;
  const t = spec.attachTime ?? 0;
  const enis: EniView[] = [];
  for (let i = 0; i < (spec.inUse ?? 0); i++) enis.push(eni(`eni-u${i}`, 'in-use', t));
  for (let i = 0; i < (spec.available ?? 0); i++) enis.push(eni(`eni-a${i}`, 'available'));
  for (let i = 0; i < (spec.other ?? 0); i++) enis.push(eni(`eni-o${i}`, 'in-use', t, 'other'));
  enis.push(...(spec.extraEnis ?? []));
  const usable = 2 ** (32 - prefix) - 5;
  const used = enis.reduce((n, e) => n + e.addresses, 0);
  const raw: RawSample = {
    subnets: [{ subnetId: spec.subnetId, cidr: `10.0.0.0/${prefix}`, availabilityZone: 'us-east-1a', availableIpAddressCount: usable - used }],
    enis: enis.map((e) => rawEniOf(e, spec.subnetId)),
  };
  if (spec.lingering === undefined) {
    if (spec.jobs) throw new Error(`subnetView ${spec.subnetId}: jobs are Glue data, so lingering must be given too`);
    return raw;
  }
  const glueInUse = enis.filter((e) => e.owner === 'glue' && e.status === 'in-use').length;
  const busy = glueInUse - spec.lingering;
  if (busy < 0) throw new Error(`subnetView ${spec.subnetId}: lingering ${spec.lingering} exceeds the ${glueInUse} in-use Glue ENIs`);
  const connection = `conn-${spec.subnetId}`;
  const bindings = spec.jobs ?? [];
  const connections = [...new Set([connection, ...bindings.map((b) => b.connection)])].map((name) => ({ name, subnetId: spec.subnetId }));
  const jobs = bindings.map((b) => ({ name: b.job, connections: [b.connection], workers: b.workers }));
  // The busy ENIs belong to one running run that started when they attached.
  const runs = busy === 0 ? [] : [{ jobName: RUNNING_JOB, id: 'jr_running', state: 'RUNNING', startedOn: t, workers: busy }];
  if (busy > 0) jobs.push({ name: RUNNING_JOB, connections: [connection], workers: busy });
  raw.glue = { connections, jobs, runs };
  return raw;
}

/** The subnet in the state `spec` describes, as buildSnapshot derives it from a sample. */
export function subnetView(spec: SubnetSpec): SubnetView {
  const snapshot = buildSnapshot(rawSampleOf(spec), {
    names: new Map([[spec.subnetId, spec.name ?? spec.subnetId]]),
    ownerDescriptionPrefixes: OWNER_PREFIXES,
    takenAt: 0,
    completedMono: 0,
    durationMs: 1,
  });
  return snapshot.subnets[0];
}

/** A snapshot of the given subnet views, in the order given (a cache test may depend on it). */
export function snapshotOf(subnets: SubnetView[], opts: { takenAt?: number; completedMono?: number; glueKnown?: boolean } = {}): Snapshot {
  return {
    takenAt: opts.takenAt ?? 0,
    completedMono: opts.completedMono ?? performance.now(),
    durationMs: 1,
    glueKnown: opts.glueKnown ?? subnets.every((s) => s.lingering !== undefined),
    subnets,
  };
}
