// Snapshot builders for tests, benchmarks and backtests: a subnet in a given state without sampling AWS.
import type { EniView, JobBinding, Snapshot, SubnetView } from '../snapshot/types.js';

export interface SubnetSpec {
  subnetId: string;
  name?: string;
  /** CIDR prefix length; usable = 2^(32 − prefix) − 5. */
  prefix?: number;
  /** Glue ENIs in-use (attached at `attachTime`). */
  inUse?: number;
  available?: number;
  /** Of the in-use Glue ENIs, how many do no work; undefined = Glue data unknown. */
  lingering?: number;
  /** Addresses held by non-Glue ENIs (one ENI each). */
  other?: number;
  attachTime?: number;
  /** Extra Glue ENIs (e.g. attached after a reservation). */
  extraEnis?: EniView[];
  jobs?: JobBinding[];
}

export function eni(id: string, status: string, attachTime?: number, owner: 'glue' | 'other' = 'glue'): EniView {
  const e: EniView = { id, status, owner, addresses: 1, description: owner === 'glue' ? 'Attached to Glue using role x' : 'other', lingering: false };
  if (attachTime !== undefined) e.attachTime = attachTime;
  return e;
}

export function subnetView(spec: SubnetSpec): SubnetView {
  const prefix = spec.prefix ?? 26;
  const usable = 2 ** (32 - prefix) - 5;
  const enis: EniView[] = [];
  const t = spec.attachTime ?? 0;
  for (let i = 0; i < (spec.inUse ?? 0); i++) enis.push(eni(`eni-u${i}`, 'in-use', t));
  for (let i = 0; i < (spec.available ?? 0); i++) enis.push(eni(`eni-a${i}`, 'available'));
  for (let i = 0; i < (spec.other ?? 0); i++) enis.push(eni(`eni-o${i}`, 'in-use', t, 'other'));
  enis.push(...(spec.extraEnis ?? []));
  const used = enis.reduce((n, e) => n + e.addresses, 0);
  const byStatusOwner: Record<string, number> = {};
  for (const e of enis) byStatusOwner[`${e.status}|${e.owner}`] = (byStatusOwner[`${e.status}|${e.owner}`] ?? 0) + 1;
  const view: SubnetView = {
    subnetId: spec.subnetId,
    name: spec.name ?? spec.subnetId,
    cidr: `10.0.0.0/${prefix}`,
    availabilityZone: 'us-east-1a',
    usable,
    used,
    free: usable - used,
    awsAvailable: usable - used,
    enis,
    enisByStatusOwner: byStatusOwner,
    totalEnis: enis.length,
    inUse: enis.filter((e) => e.status === 'in-use').length,
    available: enis.filter((e) => e.status === 'available').length,
  };
  if (spec.lingering !== undefined) view.lingering = spec.lingering;
  if (spec.jobs) view.jobs = spec.jobs;
  return view;
}

export function snapshotOf(subnets: SubnetView[], opts: { takenAt?: number; completedMono?: number; glueKnown?: boolean } = {}): Snapshot {
  return {
    takenAt: opts.takenAt ?? 0,
    completedMono: opts.completedMono ?? performance.now(),
    durationMs: 1,
    glueKnown: opts.glueKnown ?? subnets.every((s) => s.lingering !== undefined),
    subnets,
  };
}
