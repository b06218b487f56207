// Plain records of what AWS said, decoupled from SDK shapes so that the snapshot code stays pure and
// testable. Times are epoch milliseconds.

export interface RawSubnet {
  subnetId: string;
  cidr: string;
  availabilityZone: string;
  /** DescribeSubnets AvailableIpAddressCount: AWS's own view, used as a cross-check. */
  availableIpAddressCount: number;
  /** DescribeSubnets OwnerId: the account, for the single-account form that does not configure it. */
  ownerId?: string;
}

export interface RawEni {
  id: string;
  subnetId: string;
  status: string;
  description: string;
  requesterId?: string;
  requesterManaged: boolean;
  interfaceType?: string;
  /** Private IPv4 addresses held: primary + secondary. */
  privateIpCount: number;
  /** Delegated IPv4 prefixes (/28 each: 16 addresses). */
  ipv4PrefixCount: number;
  attachTime?: number;
  attachmentStatus?: string;
  deleteOnTermination?: boolean;
}

/** An ENI's fields as read from either response path (the SDK's shapes or the streamed XML), all optional. */
export interface EniFields {
  id?: string;
  subnetId?: string;
  status?: string;
  description?: string;
  requesterId?: string;
  requesterManaged?: boolean;
  interfaceType?: string;
  /** The primary private address is present. */
  hasPrimaryIp: boolean;
  /** Entries of privateIpAddressesSet. */
  privateIps: number;
  /** Entries of ipv4PrefixSet. */
  prefixes: number;
  attachTime?: number;
  attachmentStatus?: string;
  deleteOnTermination?: boolean;
}

/** The one place a RawEni is built: both read paths give the same record with the same optional keys. */
export function rawEni(d: EniFields): RawEni {
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

export interface RawConnection {
  name: string;
  subnetId?: string;
}

export interface RawJob {
  name: string;
  connections: string[];
  /** NumberOfWorkers, or undefined for MaxCapacity-sized jobs. */
  workers?: number;
}

export interface RawJobRun {
  jobName: string;
  id: string;
  state: string;
  startedOn?: number;
  completedOn?: number;
  errorMessage?: string;
  workers?: number;
}

/** What one sample read. `glue` is undefined when the Glue reads failed but EC2 succeeded. */
export interface RawSample {
  subnets: RawSubnet[];
  enis: RawEni[];
  glue?: {
    connections: RawConnection[];
    jobs: RawJob[];
    runs: RawJobRun[];
  };
}

/** Glue job-run states that hold workers (and their ENIs), whatever the run's age. */
export const ACTIVE_RUN_STATES: ReadonlySet<string> = new Set(['STARTING', 'RUNNING', 'STOPPING', 'WAITING']);
