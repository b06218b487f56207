// The cache's unit: one immutable view of every watched subnet, replaced all-or-nothing by the sampler.

export type Owner = 'glue' | 'other';

export interface EniView {
  id: string;
  status: string;
  owner: Owner;
  /** Addresses the ENI holds in its subnet (primary + secondary + 16 per delegated /28 prefix). */
  addresses: number;
  description: string;
  requesterId?: string;
  attachTime?: number;
  /** First sample time at which the ENI was seen `available` (from the lifecycle tracker). */
  availableSince?: number;
  /** An in-use Glue ENI whose attach time fits no running job run of its subnet. */
  lingering: boolean;
  /** A lingering ENI's run end (CompletedOn of the run it most likely belonged to), when the runs read show it. */
  jobEndedAt?: number;
}

export interface JobBinding {
  job: string;
  connection: string;
  workers?: number;
}

export interface ActiveRun {
  job: string;
  runId: string;
  state: string;
  startedOn?: number;
  workers: number;
}

/** A job run of the subnet's jobs read in the run lookback, kept to attribute ENIs to runs. */
export interface RunRecord {
  job: string;
  runId: string;
  state: string;
  startedOn?: number;
  completedOn?: number;
}

/** One (account, region) pair the exporter samples with its own credentials and clients. */
export interface TargetRef {
  /** 12-digit AWS account id; '' while the single-account form has not learned it yet. */
  account: string;
  region: string;
}

/** A target's key: `${account}/${region}` (`111111111111/eu-west-1`). */
export function targetKey(t: TargetRef): string {
  return `${t.account}/${t.region}`;
}

export interface SubnetView {
  subnetId: string;
  /** Configured human name (`critical`), or the id when none. */
  name: string;
  /** The target that holds the subnet (labels `account_id`, `region`). */
  account: string;
  region: string;
  cidr: string;
  availabilityZone: string;
  usable: number;
  used: number;
  free: number;
  /** AWS's AvailableIpAddressCount, a cross-check of `free`. */
  awsAvailable: number;
  enis: EniView[];
  /** Counts by `${status}|${owner}`. */
  enisByStatusOwner: Record<string, number>;
  totalEnis: number;
  inUse: number;
  available: number;
  /** max(0, Glue in-use ENIs − active workers); undefined when Glue data is unknown. */
  lingering?: number;
  activeRuns?: ActiveRun[];
  /** Every run of the subnet's jobs in the lookback (active and finished); undefined when Glue data is unknown. */
  runs?: RunRecord[];
  activeWorkers?: number;
  /** Jobs that can land in this subnet (through their connection). */
  jobs?: JobBinding[];
  /** Job runs that failed with the subnet-exhaustion error, by run id (each counted once downstream). */
  exhaustionFailures?: { job: string; runId: string; at?: number }[];
}

export interface Snapshot {
  /** Clock time (epoch ms) at which the sample started: the time the data describes. */
  takenAt: number;
  /** Process monotonic time (ms, performance.now()) when it completed: freshness is judged on this. */
  completedMono: number;
  durationMs: number;
  /** False when Glue reads failed: Glue-derived fields are undefined, not zero. */
  glueKnown: boolean;
  glueError?: string;
  /** The target a sample read; absent on the cache's merged view of several targets. */
  target?: TargetRef;
  subnets: SubnetView[];
}
